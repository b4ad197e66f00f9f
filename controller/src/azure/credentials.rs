//! Where the bearer token for ARM comes from. `AZLIN_ARM_TOKEN` is a
//! static token (with `AZLIN_ARM_ENDPOINT`, any ARM-compatible server,
//! which is how azlin is tested).

use super::error::{ArmError, ErrorKind};

pub enum Credentials {
    /// A token used as it is.
    Static(String),
}

impl Credentials {
    /// From the environment: `AZLIN_ARM_TOKEN`.
    pub fn from_env() -> Result<Self, ArmError> {
        match std::env::var("AZLIN_ARM_TOKEN") {
            Ok(t) if !t.trim().is_empty() => Ok(Self::Static(t.trim().to_string())),
            _ => Err(ArmError {
                status: 0,
                code: "NoCredentials".into(),
                message: "no Azure credentials".into(),
                kind: ErrorKind::Authentication,
                request: "sign-in".into(),
            }),
        }
    }

    pub async fn token(&self) -> Result<String, ArmError> {
        match self {
            Self::Static(t) => Ok(t.clone()),
        }
    }
}
