//! Azure's error bodies turned into errors that say what happened and what
//! to do: quota exceeded, SKU not available in the region, name taken, not
//! found, signed out, not permitted, throttled. ARM wraps them as
//! `{"error": {"code", "message", "details"}}`; some resource providers
//! send the inner object alone.

use serde::Deserialize;

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ErrorDetail {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub details: Vec<ErrorDetail>,
}

impl ErrorDetail {
    /// The errors under this one, depth first. A failed deployment nests
    /// the resource's own error under `DeploymentFailed`, sometimes as a
    /// JSON document inside a message, so those are opened too.
    fn inner(&self) -> Vec<ErrorDetail> {
        let mut out = Vec::new();
        for d in &self.details {
            let embedded = d
                .message
                .trim_start()
                .starts_with('{')
                .then(|| parse_detail(d.message.as_bytes()))
                .flatten();
            let node = embedded.as_ref().unwrap_or(d);
            out.push(ErrorDetail {
                details: Vec::new(),
                ..node.clone()
            });
            out.extend(node.inner());
        }
        out
    }
}

#[derive(Deserialize)]
struct Wrapped {
    error: ErrorDetail,
}

/// What kind of failure, for the message and the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    QuotaExceeded,
    SkuNotAvailable,
    NameTaken,
    NotFound,
    /// Signed out or the token expired.
    Authentication,
    /// Signed in, but not allowed.
    Authorization,
    Throttled,
    /// A long-running operation ended `Failed` or `Canceled`.
    OperationFailed,
    Other,
}

/// A failed ARM request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct ArmError {
    /// HTTP status (0 for a failed long-running operation's status body).
    pub status: u16,
    pub code: String,
    pub message: String,
    pub kind: ErrorKind,
    /// `METHOD path` of the request, for the user and the logs.
    pub request: String,
}

impl ArmError {
    /// From a response's status and body (which may be empty or not JSON).
    pub fn from_response(status: u16, body: &[u8], request: impl Into<String>) -> Self {
        let detail = parse_detail(body).unwrap_or_else(|| ErrorDetail {
            code: format!("HTTP{status}"),
            message: String::from_utf8_lossy(body)
                .trim()
                .chars()
                .take(300)
                .collect(),
            ..ErrorDetail::default()
        });
        Self::from_detail(status, detail, request)
    }

    pub fn from_detail(status: u16, detail: ErrorDetail, request: impl Into<String>) -> Self {
        // The useful code is often in `details` (a deployment's inner error).
        let inner = detail.inner();
        let mut codes = vec![detail.code.as_str()];
        codes.extend(inner.iter().map(|d| d.code.as_str()));
        let text = format!(
            "{} {}",
            detail.message,
            inner
                .iter()
                .map(|d| d.message.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        );
        let kind = classify(status, &codes, &text);
        let mut message = detail.message.trim().to_string();
        for d in inner
            .iter()
            .filter(|d| !d.message.trim_start().starts_with('{'))
        {
            if !d.message.is_empty() && !message.contains(d.message.trim()) {
                message.push_str(" — ");
                message.push_str(d.message.trim());
            }
        }
        Self {
            status,
            code: detail.code,
            message,
            kind,
            request: request.into(),
        }
    }

    fn describe(&self) -> String {
        let next = match self.kind {
            ErrorKind::QuotaExceeded => {
                "; ask for a higher quota (Azure portal: Subscriptions → Usage + quotas), pick a \
                 smaller size, or use another region"
            }
            ErrorKind::SkuNotAvailable => {
                "; this VM size is not offered in that region for your subscription: pick another \
                 size or region (az vm list-skus --location REGION)"
            }
            ErrorKind::NameTaken => "; the name is in use: pick another name",
            ErrorKind::NotFound => "; check the name, resource group and subscription",
            ErrorKind::Authentication => {
                "; your Azure sign-in is missing or expired: run `az login` (or set \
                 AZLIN_ARM_TOKEN / a service principal's AZURE_CLIENT_ID, AZURE_CLIENT_SECRET and \
                 AZURE_TENANT_ID)"
            }
            ErrorKind::Authorization => {
                "; your account lacks permission for this: ask for the Contributor role on the \
                 subscription or resource group"
            }
            ErrorKind::Throttled => "; Azure is throttling requests: wait a minute and try again",
            ErrorKind::OperationFailed | ErrorKind::Other => "",
        };
        let code = if self.code.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.code)
        };
        format!("{}{code}: {}{next}", self.request, self.message)
    }
}

fn parse_detail(body: &[u8]) -> Option<ErrorDetail> {
    if let Ok(w) = serde_json::from_slice::<Wrapped>(body) {
        return Some(w.error);
    }
    serde_json::from_slice::<ErrorDetail>(body)
        .ok()
        .filter(|d| !d.code.is_empty())
}

fn classify(status: u16, codes: &[&str], text: &str) -> ErrorKind {
    let any = |needles: &[&str]| {
        codes
            .iter()
            .any(|c| needles.iter().any(|n| c.eq_ignore_ascii_case(n)))
    };
    let text = text.to_ascii_lowercase();
    if any(&["QuotaExceeded", "OperationNotAllowed"]) && text.contains("quota")
        || any(&["QuotaExceeded"])
    {
        ErrorKind::QuotaExceeded
    } else if any(&["SkuNotAvailable", "InvalidTemplateDeployment"]) && text.contains("sku")
        || any(&["SkuNotAvailable"])
    {
        ErrorKind::SkuNotAvailable
    } else if any(&[
        "StorageAccountAlreadyTaken",
        "StorageAccountAlreadyExists",
        "AlreadyExists",
        "ResourceAlreadyExists",
        "DnsRecordInUse",
        "VaultAlreadyExists",
    ]) {
        ErrorKind::NameTaken
    } else if status == 401
        || any(&[
            "InvalidAuthenticationToken",
            "ExpiredAuthenticationToken",
            "AuthenticationFailed",
            "InvalidAuthenticationTokenTenant",
        ])
    {
        ErrorKind::Authentication
    } else if status == 403 || any(&["AuthorizationFailed", "LinkedAuthorizationFailed"]) {
        ErrorKind::Authorization
    } else if status == 404
        || any(&[
            "ResourceNotFound",
            "ResourceGroupNotFound",
            "NotFound",
            "ParentResourceNotFound",
        ])
    {
        ErrorKind::NotFound
    } else if status == 429 {
        ErrorKind::Throttled
    } else {
        ErrorKind::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(status: u16, body: &str) -> ErrorKind {
        ArmError::from_response(status, body.as_bytes(), "PUT /x").kind
    }

    #[test]
    fn azure_errors_are_classified_and_say_what_to_do() {
        let quota = r#"{"error":{"code":"OperationNotAllowed","message":"Operation could not be completed as it results in exceeding approved standardDSv3Family Cores quota."}}"#;
        assert_eq!(kind(409, quota), ErrorKind::QuotaExceeded);
        let e = ArmError::from_response(409, quota.as_bytes(), "PUT /vm");
        assert!(e.to_string().contains("Usage + quotas"), "{e}");
        let sku = r#"{"error":{"code":"SkuNotAvailable","message":"The requested size for resource '/x' is currently not available in location 'westus'."}}"#;
        assert_eq!(kind(409, sku), ErrorKind::SkuNotAvailable);
        let nested = r#"{"error":{"code":"InvalidTemplateDeployment","message":"The template deployment failed.","details":[{"code":"SkuNotAvailable","message":"size Standard_X not available"}]}}"#;
        assert_eq!(kind(400, nested), ErrorKind::SkuNotAvailable);
        assert!(
            ArmError::from_response(400, nested.as_bytes(), "PUT /d")
                .message
                .contains("Standard_X")
        );
        // A failed deployment: the resource's own error two levels down,
        // once inside a message that is itself a JSON document.
        let deployment = r#"{"status":"Failed","error":{"code":"DeploymentFailed","message":"At least one resource deployment operation failed.","details":[{"code":"Conflict","message":"{\"status\":\"Failed\",\"error\":{\"code\":\"ResourceDeploymentFailure\",\"message\":\"The resource operation completed with terminal provisioning state 'Failed'.\",\"details\":[{\"code\":\"QuotaExceeded\",\"message\":\"Operation could not be completed as it results in exceeding approved Total Regional Cores quota.\"}]}}"}]}}"#;
        let e = ArmError::from_response(200, deployment.as_bytes(), "PUT /deployments/d");
        assert_eq!(e.kind, ErrorKind::QuotaExceeded);
        assert!(e.message.contains("Total Regional Cores"), "{e}");
        assert!(!e.message.contains("{\""), "no raw JSON in: {e}");
        let taken = r#"{"error":{"code":"StorageAccountAlreadyTaken","message":"The storage account named x is already taken."}}"#;
        assert_eq!(kind(409, taken), ErrorKind::NameTaken);
        let gone = r#"{"error":{"code":"ResourceGroupNotFound","message":"Resource group 'rg' could not be found."}}"#;
        assert_eq!(kind(404, gone), ErrorKind::NotFound);
        let expired = r#"{"error":{"code":"ExpiredAuthenticationToken","message":"The access token expiry UTC time is earlier than current UTC time."}}"#;
        assert_eq!(kind(401, expired), ErrorKind::Authentication);
        assert!(
            ArmError::from_response(401, expired.as_bytes(), "GET /")
                .to_string()
                .contains("az login")
        );
        assert_eq!(
            kind(
                403,
                r#"{"error":{"code":"AuthorizationFailed","message":"no"}}"#
            ),
            ErrorKind::Authorization
        );
        assert_eq!(kind(429, ""), ErrorKind::Throttled);
        // Not JSON at all: the status and the text, never a parse error.
        let e = ArmError::from_response(502, b"<html>Bad Gateway</html>", "GET /vm");
        assert_eq!(e.code, "HTTP502");
        assert!(e.to_string().contains("Bad Gateway"));
        // The unwrapped form some providers send.
        assert_eq!(
            kind(404, r#"{"code":"NotFound","message":"gone"}"#),
            ErrorKind::NotFound
        );
    }
}
