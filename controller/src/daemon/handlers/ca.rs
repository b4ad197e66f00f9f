//! `azlin ca rotate|show|retire`: the daemon's side, over
//! `agents::ca_rotation`.

use anyhow::{Result, bail};

use super::{Ctx, Handle};
use crate::{
    daemon::agents::ca_rotation,
    fleet_pki::fingerprint,
    ipc::{
        Done,
        ca::{CaRetire, CaRotate, CaRotated, CaShow, CaStatus},
    },
};

impl Handle for CaRotate {
    async fn handle(self, cx: &Ctx) -> Result<CaRotated> {
        let r = ca_rotation::rotate(&cx.d).await?;
        Ok(CaRotated {
            fingerprint: fingerprint(cx.d.pki().ca_der()),
            renewed: r.renewed,
            pending: r.pending,
            retired: r.retired,
        })
    }
}

impl Handle for CaShow {
    async fn handle(self, cx: &Ctx) -> Result<CaStatus> {
        let pki = cx.d.pki();
        Ok(CaStatus {
            fingerprint: fingerprint(pki.ca_der()),
            old: pki.old().iter().map(|c| fingerprint(c)).collect(),
            behind: ca_rotation::behind(&cx.d)?,
        })
    }
}

impl Handle for CaRetire {
    async fn handle(self, cx: &Ctx) -> Result<Done> {
        let behind = ca_rotation::behind(&cx.d)?;
        if !behind.is_empty() && !self.force {
            bail!(
                "{} still hold a certificate of the old CA and would have to enrol again \
                 (`azlin token VM`); start them so they are brought over, or retire anyway with \
                 --force (nothing done)",
                behind.join(", ")
            );
        }
        ca_rotation::retire_now(&cx.d).await?;
        Ok(Done {
            message: if behind.is_empty() {
                "the CAs a rotation replaced are retired".into()
            } else {
                format!(
                    "the CAs a rotation replaced are retired; {} must enrol again (`azlin token \
                     VM`, see the README)",
                    behind.join(", ")
                )
            },
        })
    }
}
