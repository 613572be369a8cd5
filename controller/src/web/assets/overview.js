// Unity overview (issue 19): live host cards, and sort / filter / group / search in the browser.
// - Live: an EventSource on the cards' data-live URL (/events/overview). Each "card" event is
//   one host's `.live` part, rendered and escaped by the controller; it is parsed with
//   DOMParser (no scripts run) and replaces that host's part. Agent-supplied text is never
//   assembled here. The stream reconnects by itself (the server ends it every 10 minutes).
// - Controls: search (host name, id, group), status (all, needs a look, one status), sort
//   (name, status, CPU, memory, disk; figures highest first), group (by host group; a host in
//   two groups shows in both). The choice is kept in localStorage. Without this script the
//   page shows every card by name and the controls stay hidden.
"use strict";
(function () {
  const container = document.getElementById("hosts");
  const form = document.getElementById("overview-controls");
  if (!container || !form) return;
  const KEY = "unity.overview.v1";
  const fields = {
    q: document.getElementById("overview-search"),
    status: document.getElementById("overview-status"),
    sort: document.getElementById("overview-sort"),
    group: document.getElementById("overview-group"),
  };
  const shown = document.getElementById("overview-shown");
  const cards = Array.from(container.querySelectorAll("article.host-card"));
  // The markup is lean (500 cards): the id is the live part's, the name the heading's, the
  // status rank is derived here. Kept on the card as properties, as the live part is replaced.
  const RANK = { offline: 0, stale: 1, online: 2, revoked: 3 };
  for (const card of cards) {
    card.agentId = card.querySelector(".live").dataset.agent;
    card.hostName = card.querySelector("h3").textContent.trim().toLowerCase();
  }
  const byAgent = new Map(cards.map((card) => [card.agentId, card]));
  const groupNames = Array.from(
    (document.getElementById("overview-group-names") || { content: { children: [] } }).content
      .children
  ).map((span) => span.textContent);
  if (groupNames.length === 0) fields.group.closest("label").hidden = true;

  try {
    const saved = JSON.parse(localStorage.getItem(KEY) || "{}");
    for (const name of Object.keys(fields)) {
      if (typeof saved[name] === "string") fields[name].value = saved[name];
    }
  } catch (_) {
    // No storage (private mode) or a bad value: the defaults.
  }
  form.hidden = false;

  function live(card) {
    return card.querySelector(".live");
  }
  function figure(card, name) {
    const value = parseFloat(live(card).dataset[name]);
    return Number.isNaN(value) ? -1 : value;
  }
  function rank(card) {
    const value = RANK[live(card).dataset.status];
    return value === undefined ? 4 : value;
  }
  function groupsOf(card) {
    return card.dataset.groups ? card.dataset.groups.split("\n") : [];
  }
  function needsLook(card) {
    return (
      live(card).dataset.status !== "online" ||
      card.querySelector(".sev-critical, .sev-warning") !== null
    );
  }
  function matches(card, query, status) {
    if (status === "problems" && !needsLook(card)) return false;
    if (status && status !== "problems" && live(card).dataset.status !== status) return false;
    if (!query) return true;
    const text = [card.hostName, card.agentId].concat(groupsOf(card)).join(" ");
    return text.toLowerCase().includes(query);
  }
  function compare(sort) {
    const byName = (a, b) => a.hostName.localeCompare(b.hostName);
    if (sort === "status") {
      return (a, b) => rank(a) - rank(b) || byName(a, b);
    }
    if (sort === "cpu" || sort === "memory" || sort === "disk") {
      return (a, b) => figure(b, sort) - figure(a, sort) || byName(a, b);
    }
    return byName;
  }

  function wanted() {
    const query = fields.q.value.trim().toLowerCase();
    const status = fields.status.value;
    const visible = cards.filter((card) => matches(card, query, status)).sort(compare(fields.sort.value));
    shown.textContent = "Showing " + visible.length + " of " + cards.length + " hosts";
    if (fields.group.value !== "groups" || groupNames.length === 0) return { flat: visible };
    const sections = [];
    const names = groupNames.concat([""]);
    for (const name of names) {
      const members = visible.filter((card) =>
        name ? groupsOf(card).includes(name) : groupsOf(card).length === 0
      );
      if (members.length > 0) sections.push({ name: name || "in no host group", members });
    }
    return { sections };
  }

  let current = "";
  function layout() {
    const plan = wanted();
    const signature = JSON.stringify(
      plan.flat
        ? plan.flat.map((card) => card.agentId)
        : plan.sections.map((s) => [s.name, s.members.map((card) => card.agentId)])
    );
    if (signature === current) return;
    current = signature;
    if (plan.flat) {
      container.replaceChildren(...plan.flat);
      return;
    }
    container.replaceChildren(
      ...plan.sections.map((section) => {
        const element = document.createElement("section");
        element.className = "host-group";
        const heading = document.createElement("h3");
        heading.textContent = section.name + " (" + section.members.length + ")";
        const grid = document.createElement("div");
        grid.className = "host-cards";
        // A host in two groups shows twice: the first is the card, the others copies.
        grid.append(
          ...section.members.map((card) => (card.isConnected ? card.cloneNode(true) : card))
        );
        element.append(heading, grid);
        return element;
      })
    );
  }

  function save() {
    const choice = {};
    for (const name of Object.keys(fields)) choice[name] = fields[name].value;
    try {
      localStorage.setItem(KEY, JSON.stringify(choice));
    } catch (_) {
      // Storage full or disabled: the choice lasts for this page only.
    }
  }
  form.addEventListener("input", () => {
    save();
    layout();
  });
  layout();

  let pending = false;
  function relayoutSoon() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      layout();
    });
  }

  const url = container.dataset.live;
  if (!url || typeof EventSource === "undefined") return;
  const parser = new DOMParser();
  const source = new EventSource(url);
  source.addEventListener("open", () => (container.dataset.liveState = "open"));
  source.addEventListener("error", () => (container.dataset.liveState = "reconnecting"));
  source.addEventListener("card", (event) => {
    const fresh = parser.parseFromString(event.data, "text/html").body.firstElementChild;
    if (!fresh || !fresh.classList.contains("live")) return;
    const card = byAgent.get(fresh.dataset.agent);
    if (!card) return;
    live(card).replaceWith(fresh);
    for (const copy of container.querySelectorAll("article.host-card")) {
      if (copy !== card && copy.querySelector(".live").dataset.agent === card.agentId) {
        live(copy).replaceWith(fresh.cloneNode(true));
      }
    }
    relayoutSoon();
  });
})();
