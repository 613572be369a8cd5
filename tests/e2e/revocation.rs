//! Issue 2, test 3: a revoked agent is cut off and cannot reconnect, with or without TLS
//! session resumption, also after a controller restart.

use rustls::client::{ClientSessionMemoryCache, ClientSessionStore};
use rustls::pki_types::ServerName;
use rustls::NamedGroup;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use unity_controller::admin::{AdminRequest, AdminResponse};
use unity_shared::proto::{
    error_code, AgentMessage, ControllerMessage, Hello, HostFacts, PROTOCOL_VERSION,
};
use unity_tests::*;

/// A session cache that counts the resumption tickets the server hands out and the client's
/// attempts to use one.
#[derive(Debug)]
struct CountingSessionStore {
    inner: ClientSessionMemoryCache,
    tickets_received: AtomicUsize,
    resumption_attempts: AtomicUsize,
}

impl ClientSessionStore for CountingSessionStore {
    fn set_kx_hint(&self, server_name: ServerName<'static>, group: NamedGroup) {
        self.inner.set_kx_hint(server_name, group)
    }
    fn kx_hint(&self, server_name: &ServerName<'_>) -> Option<NamedGroup> {
        self.inner.kx_hint(server_name)
    }
    fn set_tls12_session(
        &self,
        server_name: ServerName<'static>,
        value: rustls::client::Tls12ClientSessionValue,
    ) {
        self.inner.set_tls12_session(server_name, value)
    }
    fn tls12_session(
        &self,
        server_name: &ServerName<'_>,
    ) -> Option<rustls::client::Tls12ClientSessionValue> {
        self.inner.tls12_session(server_name)
    }
    fn remove_tls12_session(&self, server_name: &ServerName<'static>) {
        self.inner.remove_tls12_session(server_name)
    }
    fn insert_tls13_ticket(
        &self,
        server_name: ServerName<'static>,
        value: rustls::client::Tls13ClientSessionValue,
    ) {
        self.tickets_received.fetch_add(1, Ordering::SeqCst);
        self.inner.insert_tls13_ticket(server_name, value)
    }
    fn take_tls13_ticket(
        &self,
        server_name: &ServerName<'static>,
    ) -> Option<rustls::client::Tls13ClientSessionValue> {
        self.resumption_attempts.fetch_add(1, Ordering::SeqCst);
        self.inner.take_tls13_ticket(server_name)
    }
}

async fn hello_exchange(
    connection: &quinn::Connection,
    instance_id: unity_shared::proto::InstanceId,
) -> anyhow::Result<ControllerMessage> {
    let (mut send, mut recv) = connection.open_bi().await?;
    let hello = AgentMessage::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        agent_version: "test".into(),
        host: HostFacts::default(),
        instance_id,
        install: unity_shared::proto::InstallKind::File,
    });
    unity_shared::wire::write(&mut send, &hello, 1 << 20).await?;
    let reply = unity_shared::wire::read(&mut recv, 1 << 20).await?;
    reply.ok_or_else(|| anyhow::anyhow!("no reply"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_agent_is_cut_off_and_cannot_reconnect() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let controller_dir = dir.path().join("controller");
    let controller = start_controller(controller_config(&controller_dir)).await;
    let agent_dir = dir.path().join("agent");
    let (agent_id, agent) =
        enrolled_agent(&controller, &agent_dir, Duration::from_millis(200)).await;
    eventually("the agent connected", Duration::from_secs(10), || async {
        controller
            .context
            .hub
            .last_message_ms(&agent_id)
            .map(|_| ())
    })
    .await;

    // A second client with the agent's identity (as the same installation: a clone would be
    // refused) and a session cache that would resume.
    let instance_id = agent.state.instance.id;
    let identity = unity_agent::identity::load(&agent_dir).unwrap();
    let store = Arc::new(CountingSessionStore {
        inner: ClientSessionMemoryCache::new(16),
        tickets_received: AtomicUsize::new(0),
        resumption_attempts: AtomicUsize::new(0),
    });
    let mut tls = unity_shared::tls::agent_client_config(
        identity.ca_der.clone(),
        identity.certificate_der.clone(),
        identity.private_key(),
    )
    .unwrap();
    tls.resumption = rustls::client::Resumption::store(store.clone());
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(tls).unwrap();
    let config = quinn::ClientConfig::new(Arc::new(quic));
    let endpoint = unity_agent::transport::client_endpoint(controller.local_addr).unwrap();
    let connection =
        unity_agent::transport::connect(&endpoint, config.clone(), controller.local_addr)
            .await
            .unwrap();
    assert!(matches!(
        hello_exchange(&connection, instance_id).await.unwrap(),
        ControllerMessage::Welcome(_)
    ));
    assert!(
        store.resumption_attempts.load(Ordering::SeqCst) >= 1,
        "the client offers resumption"
    );

    match admin_request(
        &controller,
        AdminRequest::RevokeAgent {
            agent_id: agent_id.to_string(),
        },
    )
    .await
    {
        AdminResponse::Revoked { was_connected, .. } => assert!(was_connected),
        other => panic!("{other:?}"),
    }
    // The live connection is closed with the revocation code.
    let reason = tokio::time::timeout(Duration::from_secs(5), connection.closed())
        .await
        .unwrap();
    match reason {
        quinn::ConnectionError::ApplicationClosed(close) => {
            assert!(
                close.error_code == error_code::REVOKED.into()
                    || close.error_code == error_code::REPLACED.into(),
                "{close:?}"
            );
        }
        other => panic!("unexpected close: {other:?}"),
    }
    assert_eq!(
        store.tickets_received.load(Ordering::SeqCst),
        0,
        "the controller must not issue resumption tickets: resumption would skip the client certificate check"
    );

    // Reconnecting with the same session cache is refused.
    let again = async {
        let connection =
            unity_agent::transport::connect(&endpoint, config.clone(), controller.local_addr)
                .await?;
        hello_exchange(&connection, instance_id).await
    }
    .await;
    assert!(again.is_err(), "revoked agent reconnected: {again:?}");

    // The agent itself stays disconnected.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(controller.context.hub.last_message_ms(&agent_id).is_none());
    match admin_request(&controller, AdminRequest::Hosts).await {
        AdminResponse::Hosts(hosts) => assert_eq!(hosts[0].status, "revoked"),
        other => panic!("{other:?}"),
    }

    // Revocation is durable: a restarted controller still refuses the agent.
    agent.stop().await;
    let config = controller.context.config.clone();
    let address = controller.local_addr;
    controller.shutdown().await.unwrap();
    let mut config = config;
    config.listen = address;
    let controller = start_controller(config).await;
    let endpoint = unity_agent::transport::client_endpoint(controller.local_addr).unwrap();
    let after_restart = async {
        let connection = unity_agent::transport::connect(
            &endpoint,
            config_for(&identity),
            controller.local_addr,
        )
        .await?;
        hello_exchange(&connection, instance_id).await
    }
    .await;
    assert!(
        after_restart.is_err(),
        "revoked agent accepted after restart: {after_restart:?}"
    );
    controller.shutdown().await.unwrap();
}

fn config_for(identity: &unity_agent::identity::Identity) -> quinn::ClientConfig {
    unity_agent::transport::client_config(identity).unwrap()
}
