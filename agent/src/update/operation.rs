//! One operation's beginning and end, the same for every container command: `begin` checks
//! the operation id (a retry gets the stored result, a repeat of a running one waits for it,
//! an interrupted earlier run is recovered first, a busy container is refused) and opens a journal record; `end`
//! stores the result in the journal and releases the id.

use unity_shared::model::update::{CommandResult, OperationId, Outcome, Stage};

use super::context::{result, Log, OperationContext, Stop};
use super::engine::Engine;
use super::journal::Record;
use super::recovery::{self, RecoveryError};

/// How often a repeated command checks whether the running operation of the same id ended.
const RUNNING_POLL: std::time::Duration = std::time::Duration::from_millis(200);

/// Starts an operation: the stored result when this id ran before (`Err`; a repeat of an id
/// that is running waits for its end first), a refusal (not stored, so that a retry may run)
/// while another operation on the container is unfinished, else a new journal record (and
/// the id claimed until [`end`]).
pub(super) async fn begin<E: Engine>(
    ctx: &OperationContext<'_, E>,
    id: &OperationId,
    container: &str,
    log: &mut Log<'_>,
) -> Result<Record, CommandResult> {
    if !ctx.journal.claim(id) {
        // The controller sent this operation again while it runs here (its stream was lost
        // with the connection). Refusing would end the operation as "refused" on the
        // controller while it goes on here: wait for its end and answer with its result.
        tracing::info!(%id, "The operation was sent again while it runs; waiting for its result.");
        while !ctx.journal.claim(id) {
            tokio::time::sleep(RUNNING_POLL).await;
        }
    }
    if let Some(stored) = previous(ctx, id, log).await {
        ctx.journal.release(id);
        return Err(stored);
    }
    let busy = ctx.journal.unfinished().map(|records| {
        records
            .into_iter()
            .find(|record| record.container == container && &record.id != id)
    });
    let message = match busy {
        Ok(None) => return Ok(Record::new(id, container)),
        Ok(Some(other)) => format!("operation {} on {container} is not finished", other.id),
        Err(error) => error.to_string(),
    };
    ctx.journal.release(id);
    Err(refusal(id, container, message, log))
}

/// A refusal that is not stored.
fn refusal(id: &OperationId, container: &str, refusal: String, log: &mut Log<'_>) -> CommandResult {
    log.say(Stage::Done, &refusal);
    let mut result = result(id, container);
    result.outcome = Outcome::Refused;
    result.message = refusal;
    result.log = std::mem::take(&mut log.lines);
    result
}

/// The stored result of an earlier run of this operation id (an interrupted one is recovered
/// first); its message is streamed again as `Done`.
async fn previous<E: Engine>(
    ctx: &OperationContext<'_, E>,
    id: &OperationId,
    log: &mut Log<'_>,
) -> Option<CommandResult> {
    let stored = match ctx.journal.load(id) {
        Ok(Some(Record {
            result: Some(result),
            ..
        })) => result,
        Ok(Some(record)) => {
            match recovery::recover_one(ctx.engine, ctx.journal, record, &ctx.data_settings()).await
            {
                Ok(result) => result,
                Err(RecoveryError::Engine(error)) => {
                    failure(id, format!("recovering the interrupted operation: {error}"))
                }
                Err(RecoveryError::Journal(error)) => failure(id, error.to_string()),
            }
        }
        Ok(None) => return None,
        Err(error) => failure(id, error.to_string()),
    };
    log.say(Stage::Done, &format!("already done: {}", stored.message));
    Some(stored)
}

fn failure(id: &OperationId, message: String) -> CommandResult {
    let mut result = result(id, "");
    result.outcome = Outcome::Failed;
    result.message = message;
    result
}

/// Stores the result in the journal and returns it.
pub(super) fn end<E>(
    ctx: &OperationContext<'_, E>,
    mut record: Record,
    mut result: CommandResult,
    outcome: Result<String, Stop>,
    mut log: Log<'_>,
) -> CommandResult {
    let (kind, message) = match outcome {
        Ok(message) => (Outcome::Succeeded, message),
        Err(Stop(kind, message)) => (kind, message),
    };
    log.say(Stage::Done, &message);
    result.outcome = kind;
    result.message = message;
    result.log = log.lines;
    record.result = Some(result.clone());
    if let Err(error) = ctx.journal.save(&record) {
        tracing::warn!(operation = %record.id, %error, "Cannot store the result.");
    }
    ctx.journal.release(&record.id);
    result
}
