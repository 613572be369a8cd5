//! A drive's, pool's or array's risk in plain words, from its verdict's reasons: one headline
//! for the status, then one sentence per kind of finding saying what it means and what to do.
//! Pure: the verdict in, sentences out (the reasons' own messages, with the numbers, are
//! listed next to these by the pages).

use unity_shared::model::storage::{ReasonKind, Verdict, VerdictStatus};

/// What the verdict is about, for the wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Drive,
    Pool,
    Array,
}

impl Subject {
    fn noun(self) -> &'static str {
        match self {
            Subject::Drive => "drive",
            Subject::Pool => "pool",
            Subject::Array => "array",
        }
    }
}

/// The risk explained: a headline, then what each kind of finding means (each kind once, worst
/// first). `None` (no verdict) says that nothing is known.
pub fn explain(verdict: Option<&Verdict>, subject: Subject) -> Vec<String> {
    let noun = subject.noun();
    let Some(verdict) = verdict else {
        return vec![format!(
            "Nothing is known about this {noun}'s health yet: the agent has not reported it."
        )];
    };
    let headline = match (verdict.status, subject) {
        (VerdictStatus::Passed, Subject::Drive) => "Nothing in this drive's health data points to a failure. Drives can still fail without warning, so keep backups.".to_owned(),
        (VerdictStatus::Passed, _) => format!("This {noun} is healthy: every device is working and nothing needs attention."),
        (VerdictStatus::Warning, Subject::Drive) => "This drive shows early signs of trouble. It still works; check that your backups are current and plan a replacement if the numbers grow.".to_owned(),
        (VerdictStatus::Warning, _) => format!("This {noun} works but needs a look: read what was found below."),
        (VerdictStatus::Failing, Subject::Drive) => "This drive is failing: data on it is at risk now. Copy off anything not stored elsewhere and replace it.".to_owned(),
        (VerdictStatus::Failing, _) => format!("This {noun} is at risk of losing data now: repair it before anything else fails."),
    };
    let mut findings: Vec<(VerdictStatus, ReasonKind)> = Vec::new();
    for reason in &verdict.reasons {
        if reason.status == VerdictStatus::Passed {
            continue;
        }
        match findings.iter_mut().find(|(_, kind)| *kind == reason.kind) {
            Some(found) => found.0 = found.0.max(reason.status),
            None => findings.push((reason.status, reason.kind)),
        }
    }
    findings.sort_by_key(|finding| std::cmp::Reverse(finding.0));
    std::iter::once(headline)
        .chain(
            findings
                .into_iter()
                .filter_map(|(_, kind)| meaning(kind, subject)),
        )
        .collect()
}

/// What one kind of finding means, in plain words.
fn meaning(kind: ReasonKind, subject: Subject) -> Option<String> {
    use ReasonKind::*;
    let text = match kind {
        SelfAssessmentFailed => "The drive itself reports that it is failing its own health check; drives rarely say this before it is too late.",
        AttributeFailingNow => "A health counter has dropped below the limit the maker set: the drive predicts its own failure.",
        AttributeFailedInPast => "A health counter was below the maker's limit at some time in the past; watch whether it happens again.",
        ReallocatedSectors => "The drive has moved data away from damaged spots on its surface. A few can stay stable for years; a growing number means the surface is wearing out.",
        PendingSectors => "Some spots could not be read and wait to be moved: data stored there may already be lost. Drives with pending sectors fail far more often.",
        OfflineUncorrectable => "The drive's own surface scan found spots it cannot read: a strong sign of a failing drive.",
        ReportedUncorrectable => "The drive returned errors it could not correct: some reads failed.",
        CommandTimeouts => "Commands to the drive timed out: a failing drive, power or a loose connection.",
        CrcErrors => "Data was damaged on the way between the drive and the computer: usually the cable or backplane, not the drive. Reseat or replace the cable.",
        NvmeCriticalWarning => "The SSD raised a critical warning about itself.",
        SpareBelowThreshold => "The SSD has used up most of its spare blocks for replacing worn ones.",
        EnduranceUsed => "The SSD has written as much data as it is rated for; it may keep working, but wear-out failures become likely.",
        MediaErrors => "The SSD found data it could not read back correctly.",
        Temperature => "The drive runs hotter than its limit: heat shortens its life. Check the airflow.",
        SelfTestFailed => "The drive failed a self-test: it could not read part of its surface.",
        ErrorLogEntries => "The drive logged errors. Old entries may be harmless; new ones need a look.",
        NoHealthData => "No health data could be read, so its condition is unknown.",
        ExitStatus => "smartctl reported a problem that is not visible in the values shown.",
        Degraded => match subject {
            Subject::Drive => "It belongs to something that runs without full redundancy.",
            _ => "It runs without its full redundancy: one more failed device can lose data.",
        },
        Faulted => "A part of it is faulted or unavailable: data on it cannot be reached.",
        MemberFailed => "A member device has failed or is missing; replace it to restore redundancy.",
        Rebuilding => "It is rebuilding onto a device; until that finishes, redundancy is reduced and the disks work harder.",
        Scrubbing => return None,
        DeviceErrors => "A device had read, write or checksum errors; ZFS repaired what it could from redundancy. Check the drive and its cable.",
        DataErrors => "Some files are damaged beyond repair: restore them from a backup.",
        ScrubOverdue => "It has not been scrubbed for a long time, so damage may be hiding unnoticed. Run a scrub.",
        ScrubRepaired => "The last scrub found and repaired damage: a device may be going bad.",
        Note => return None,
    };
    Some(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use unity_shared::model::storage::Reason;

    fn verdict(reasons: &[(VerdictStatus, ReasonKind)]) -> Verdict {
        Verdict::from_reasons(
            reasons
                .iter()
                .map(|(status, kind)| Reason::new(*status, *kind, "x"))
                .collect(),
        )
    }

    #[test]
    fn a_failing_drive_says_replace_and_explains_each_kind_once_worst_first() {
        let verdict = verdict(&[
            (VerdictStatus::Warning, ReasonKind::CrcErrors),
            (VerdictStatus::Failing, ReasonKind::PendingSectors),
            (VerdictStatus::Warning, ReasonKind::PendingSectors),
            (VerdictStatus::Passed, ReasonKind::Temperature),
            (VerdictStatus::Passed, ReasonKind::Note),
        ]);
        let words = explain(Some(&verdict), Subject::Drive);
        assert_eq!(words.len(), 3, "{words:#?}");
        assert!(words[0].contains("failing") && words[0].contains("replace"));
        assert!(
            words[1].contains("wait to be moved"),
            "pending first: {words:#?}"
        );
        assert!(words[2].contains("cable"), "{words:#?}");
        assert!(
            !words.iter().any(|w| w.contains("hotter")),
            "passed reasons are not risks"
        );
    }

    #[test]
    fn healthy_and_unknown_read_differently_per_subject() {
        let healthy = explain(Some(&verdict(&[])), Subject::Pool);
        assert_eq!(healthy.len(), 1);
        assert!(healthy[0].contains("pool is healthy"), "{healthy:?}");
        assert!(explain(None, Subject::Array)[0].contains("array"));
        let degraded = verdict(&[(VerdictStatus::Warning, ReasonKind::Degraded)]);
        let words = explain(Some(&degraded), Subject::Array);
        assert!(
            words[0].contains("array works but needs a look"),
            "{words:?}"
        );
        assert!(words[1].contains("one more failed device"), "{words:?}");
    }

    #[test]
    fn every_kind_has_words_or_is_informational() {
        use ReasonKind::*;
        let kinds = [
            SelfAssessmentFailed,
            AttributeFailingNow,
            AttributeFailedInPast,
            ReallocatedSectors,
            PendingSectors,
            OfflineUncorrectable,
            ReportedUncorrectable,
            CommandTimeouts,
            CrcErrors,
            NvmeCriticalWarning,
            SpareBelowThreshold,
            EnduranceUsed,
            MediaErrors,
            Temperature,
            SelfTestFailed,
            ErrorLogEntries,
            NoHealthData,
            ExitStatus,
            Degraded,
            Faulted,
            MemberFailed,
            Rebuilding,
            DeviceErrors,
            DataErrors,
            ScrubOverdue,
            ScrubRepaired,
        ];
        for kind in kinds {
            let words = meaning(kind, Subject::Drive).unwrap_or_default();
            assert!(words.ends_with('.') && words.len() > 20, "{}", words);
        }
        assert_eq!(meaning(Scrubbing, Subject::Pool), None);
    }
}
