//! `secret ...` requests on the admin socket: the secrets store and the sealing key's
//! rotation, through [`crate::domain::secrets`] and [`crate::domain::sealing`] as the actor
//! `cli`. No answer carries a value.

use super::protocol::{AdminResponse, SecretAdminRequest};
use crate::context::Context;
use crate::domain::actor::Actor;
use crate::domain::error::DomainError;
use crate::domain::{sealing, secrets};
use unity_shared::model::secret::SecretValue;
use unity_shared::proto::AgentId;

/// Answers one secrets request. Note that this uses blocking I/O.
pub fn handle(ctx: &Context, request: SecretAdminRequest) -> Result<AdminResponse, DomainError> {
    Ok(match request {
        SecretAdminRequest::Set {
            name,
            kind,
            value_hex,
        } => {
            let name = secrets::parse_name(&name)?;
            let kind = kind.as_deref().map(secrets::parse_kind).transpose()?;
            let value = hex::decode(value_hex)
                .map_err(|_| DomainError::Invalid("the value is not hex".into()))?;
            let view = secrets::set(ctx, &Actor::Cli, &name, kind, &SecretValue::new(value))?;
            AdminResponse::Secret(Box::new(view))
        }
        SecretAdminRequest::List => AdminResponse::Secrets(secrets::list(ctx)?),
        SecretAdminRequest::Show { name } => {
            let name = secrets::parse_name(&name)?;
            AdminResponse::Secret(Box::new(secrets::show(ctx, &name)?))
        }
        SecretAdminRequest::Delete { name } => {
            let name = secrets::parse_name(&name)?;
            secrets::delete(ctx, &Actor::Cli, &name)?;
            AdminResponse::Done(format!("Removed secret {name}."))
        }
        SecretAdminRequest::Scope {
            name,
            hosts,
            groups,
        } => {
            let name = secrets::parse_name(&name)?;
            let hosts = hosts
                .into_iter()
                .map(|host| {
                    AgentId::new(host).map_err(|error| DomainError::Invalid(error.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            AdminResponse::Secret(Box::new(secrets::set_scope(
                ctx,
                &Actor::Cli,
                &name,
                hosts,
                groups,
            )?))
        }
        SecretAdminRequest::RotateKey => {
            AdminResponse::KeyRotated(sealing::rotate_key(ctx, &Actor::Cli)?)
        }
    })
}
