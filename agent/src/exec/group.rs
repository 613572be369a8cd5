//! A child's process group, killed as a whole: on purpose ([`ProcessGroup::kill`]) and when the
//! guard is dropped (the future that ran the child was cancelled).
//!
//! A process group's id stays taken while any member lives, so the id cannot name another
//! group while something of ours is left in it.

use rustix::process::{kill_process_group, Pid, Signal};

/// The process group a child leads (`process_group(0)` at spawn).
#[derive(Debug)]
pub struct ProcessGroup {
    id: Option<Pid>,
}

impl ProcessGroup {
    /// The group led by the child with process id `id` (`None` once the child was reaped).
    pub fn of(id: Option<u32>) -> ProcessGroup {
        let id = id
            .and_then(|id| i32::try_from(id).ok())
            .and_then(Pid::from_raw);
        ProcessGroup { id }
    }

    /// Sends SIGKILL to every member. A group with no members left is fine.
    pub fn kill(&self) {
        if let Some(id) = self.id {
            // ESRCH: nothing left. Anything else (EPERM: a member changed user) cannot be
            // helped here; systemd's control group still ends it when the agent stops.
            let _ = kill_process_group(id, Signal::KILL);
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.kill();
    }
}
