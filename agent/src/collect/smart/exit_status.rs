//! smartctl's exit status, decoded. smartctl sets bits to report findings, so a non-zero exit
//! is data, not a failure of the collector (see `man smartctl`, "RETURN VALUES").

use unity_shared::model::storage::ExitStatus;

/// Decodes an exit code. Codes outside 0..=255 (which a process cannot return) keep their low
/// byte.
pub fn decode(code: i32) -> ExitStatus {
    let raw = (code & 0xff) as u8;
    let bit = |n: u8| raw & (1 << n) != 0;
    ExitStatus {
        raw,
        command_line_error: bit(0),
        device_open_failed: bit(1),
        command_failed: bit(2),
        disk_failing: bit(3),
        prefail_below_threshold: bit(4),
        usage_below_threshold_in_past: bit(5),
        error_log_has_errors: bit(6),
        self_test_log_has_errors: bit(7),
    }
}

/// True when smartctl produced no usable device data: the command line was rejected or the
/// device could not be opened. The other bits are findings about the drive.
pub fn is_fatal(status: &ExitStatus) -> bool {
    status.command_line_error || status.device_open_failed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_clean() {
        assert_eq!(decode(0), ExitStatus::default());
    }

    #[test]
    fn error_log_bit() {
        let status = decode(64);
        assert!(status.error_log_has_errors);
        assert!(!status.disk_failing);
        assert!(!is_fatal(&status));
    }

    #[test]
    fn open_failed_is_fatal() {
        let status = decode(2);
        assert!(status.device_open_failed);
        assert!(is_fatal(&status));
    }

    #[test]
    fn every_bit() {
        let status = decode(0xff);
        assert!(
            status.command_line_error
                && status.device_open_failed
                && status.command_failed
                && status.disk_failing
                && status.prefail_below_threshold
                && status.usage_below_threshold_in_past
                && status.error_log_has_errors
                && status.self_test_log_has_errors
        );
        assert_eq!(decode(8 | 16).raw, 24);
    }
}
