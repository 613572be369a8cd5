//! `cert ...` requests on the admin socket: managed certificates and the services CA's root,
//! through [`crate::domain::managed_certificates`] as the actor `cli`.

use super::protocol::{AdminResponse, CertificateRequest};
use crate::context::Context;
use crate::domain::actor::Actor;
use crate::domain::error::DomainError;
use crate::domain::managed_certificates as certificates;
use std::time::Duration;

/// Answers one certificate request. Note that this uses blocking I/O.
pub fn handle(ctx: &Context, request: CertificateRequest) -> Result<AdminResponse, DomainError> {
    Ok(match request {
        CertificateRequest::Declare(declaration) => AdminResponse::ManagedCertificate(Box::new(
            certificates::declare(ctx, &Actor::Cli, *declaration)?,
        )),
        CertificateRequest::List => AdminResponse::ManagedCertificates(certificates::list(ctx)?),
        CertificateRequest::Show { name } => {
            AdminResponse::ManagedCertificate(Box::new(certificates::show(ctx, &name)?))
        }
        CertificateRequest::Renew { name, wait_secs } => {
            let wait = Duration::from_secs(wait_secs.min(600));
            let (view, attempted) = certificates::request_renewal(ctx, &Actor::Cli, &name, wait)?;
            AdminResponse::RenewalRequested {
                certificate: Box::new(view),
                attempted,
            }
        }
        CertificateRequest::Revoke { name } => AdminResponse::ManagedCertificate(Box::new(
            certificates::revoke(ctx, &Actor::Cli, &name)?,
        )),
        CertificateRequest::Delete { name } => {
            certificates::delete(ctx, &Actor::Cli, &name)?;
            AdminResponse::Done(format!("Deleted managed certificate {name}."))
        }
        CertificateRequest::Root => {
            let (root, der) = certificates::root(ctx)?;
            AdminResponse::ServicesRoot {
                root,
                der_hex: hex::encode(der),
            }
        }
    })
}
