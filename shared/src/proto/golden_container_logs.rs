//! Golden values of the container log messages (issue 19 §4), chained into `golden_tests.rs`'s
//! golden file, and their round trips (hostile text included).

use super::*;
use crate::model::container_logs::{ContainerLogLine, LogStream};
use proptest::prelude::*;

/// The first read (newest lines) and a follow (after the newest line shown).
pub(super) fn commands() -> Vec<Command> {
    vec![
        Command::from(ReadContainerLogs {
            container: "web".into(),
            lines: 200,
            after_ns: None,
        }),
        Command::from(ReadContainerLogs {
            container: "web".into(),
            lines: 1000,
            after_ns: Some(1_700_000_000_123_456_789),
        }),
    ]
}

/// One line of every stream, one without a stamp, and a cut answer.
pub(super) fn responses() -> Vec<CommandResponse> {
    let line = |at_ns, stream, text: &str| ContainerLogLine {
        at_ns,
        stream,
        text: text.into(),
    };
    vec![
        CommandResponse::ContainerLogs(ContainerLogs {
            lines: vec![
                line(Some(1_700_000_000_000_000_001), LogStream::Stdout, "ready"),
                line(
                    Some(1_700_000_000_000_000_002),
                    LogStream::Stderr,
                    "warn: <b>",
                ),
                line(None, LogStream::Console, "\u{1b}[31mred\u{1b}[0m"),
            ],
            truncated: false,
        }),
        CommandResponse::ContainerLogs(ContainerLogs {
            lines: Vec::new(),
            truncated: true,
        }),
    ]
}

#[test]
fn the_golden_container_log_messages_decode_back_to_themselves() {
    for command in commands() {
        let back: Command =
            postcard::from_bytes(&postcard::to_allocvec(&command).unwrap()).unwrap();
        assert_eq!(back, command);
    }
    for response in responses() {
        let back: CommandResponse =
            postcard::from_bytes(&postcard::to_allocvec(&response).unwrap()).unwrap();
        assert_eq!(back, response);
    }
}

#[test]
fn a_log_answer_is_bound_to_its_request() {
    let answer = responses().remove(0);
    assert!(ContainerLogs::try_from(answer).is_ok());
    let other = CommandResponse::Failed {
        message: "no such container".into(),
    };
    assert!(ContainerLogs::try_from(other).is_err());
}

fn stream() -> impl Strategy<Value = LogStream> {
    prop_oneof![
        Just(LogStream::Stdout),
        Just(LogStream::Stderr),
        Just(LogStream::Console)
    ]
}

proptest! {
    #[test]
    fn any_log_answer_round_trips(
        lines in prop::collection::vec((any::<Option<i64>>(), stream(), any::<String>()), 0..20),
        truncated in any::<bool>(),
    ) {
        let logs = ContainerLogs {
            lines: lines
                .into_iter()
                .map(|(at_ns, stream, text)| ContainerLogLine { at_ns, stream, text })
                .collect(),
            truncated,
        };
        let response = CommandResponse::ContainerLogs(logs);
        let back: CommandResponse =
            postcard::from_bytes(&postcard::to_allocvec(&response).unwrap()).unwrap();
        prop_assert_eq!(back, response);
    }

    #[test]
    fn bounded_answers_stay_within_both_bounds(
        texts in prop::collection::vec(any::<String>(), 0..40),
        max_lines in 0usize..30,
        max_bytes in 0usize..200,
    ) {
        let logs = ContainerLogs {
            lines: texts
                .into_iter()
                .map(|text| ContainerLogLine { at_ns: None, stream: LogStream::Stdout, text })
                .collect(),
            truncated: false,
        };
        let bounded = logs.bounded(max_lines, max_bytes);
        prop_assert!(bounded.lines.len() <= max_lines);
        prop_assert!(bounded.text_bytes() <= max_bytes);
    }
}
