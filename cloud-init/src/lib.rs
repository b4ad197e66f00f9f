//! The cloud-init user-data azlin hands a new VM (Azure custom data, the
//! docker provider's NoCloud seed). Rendering it is a pure function of
//! [`UserData`]: it creates the VM user with the SSH key, installs the agent
//! binary from a URL after a sha256 check, writes the agent's config, the
//! fleet CA and the one-time join token (0600), starts the agent's systemd
//! unit, then installs the development tools (each section on its own, and
//! skippable so tests stay offline).
//!
//! Not here: where the agent binary is served from, or how the data reaches
//! the VM; the providers decide both.
//!
//! Every value is checked before it is written, and written as a YAML
//! double-quoted scalar (JSON string syntax, which YAML reads the same), so
//! nothing a caller passes can add keys or commands to the document.

pub mod extra;

use azlin_protocol::{enroll::JoinToken, pki::check_vm_name};
use serde::Serialize;

/// Azure's limit on custom data: 65,535 bytes before base64.
pub const MAX_CUSTOM_DATA: usize = 65_535;

/// Where the agent keeps its key, certificate and state on a VM (the
/// systemd unit's `StateDirectory`).
pub const AGENT_STATE_DIR: &str = "/var/lib/azlin-agent";

const TEMPLATE: &str = include_str!("../templates/user-data.yaml");
/// The script cloud-init runs to install the agent: `install-agent URL SHA256`.
pub const INSTALL_AGENT: &str = include_str!("../templates/install-agent.sh");
/// The script that installs the development tools: `install-dev-tools USER`.
pub const INSTALL_DEV_TOOLS: &str = include_str!("../templates/install-dev-tools.sh");
/// The unit cloud-init installs is the one shipped in `deploy/`.
pub const AGENT_UNIT: &str = include_str!("../../deploy/azlin-agent.service");
/// Run before each start of the agent: rolls a failed upgrade back.
pub const AGENT_GUARD: &str = include_str!("../templates/agent-guard.sh");

/// How the VM's agent meets the controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentConnect {
    /// The agent listens on this UDP port on every address; the daemon dials.
    Listen { port: u16 },
    /// The agent dials the controller at `host:port`.
    Dial { controller: String },
}

/// Everything that goes into one VM's user-data.
#[derive(Debug, Clone)]
pub struct UserData {
    /// The VM's name in the fleet; also its host name.
    pub name: String,
    /// The VM user: created with sudo, owns the SSH key, runs commands.
    pub user: String,
    /// One `TYPE BASE64 [COMMENT]` line for the user's authorized_keys.
    pub ssh_public_key: String,
    /// Where the VM downloads `azlin-agent` (http or https).
    pub agent_url: String,
    /// The binary's sha256, hex; anything else is not installed.
    pub agent_sha256: String,
    /// The fleet CA certificate, PEM.
    pub ca_pem: String,
    pub join_token: JoinToken,
    pub connect: AgentConnect,
    /// Install git, docker, Python, Node, Rust, gh and az after the agent.
    pub dev_tools: bool,
    /// An NFS export (`HOST:/PATH`) the agent mounts as the user's home
    /// (`new --nfs-storage`). The user is then made with uid
    /// [`SHARED_HOME_UID`], so every VM sharing the home agrees on who
    /// owns it.
    pub shared_home: Option<String>,
    /// The user's own `#cloud-config`, merged after azlin's parts
    /// ([`extra`]).
    pub extra: Option<String>,
}

/// The VM user's uid on VMs whose home is on shared storage: the files
/// there carry uids, so every VM sharing them must give the user the same
/// one (and 1000 is the one the first user gets anyway).
pub const SHARED_HOME_UID: u32 = 1000;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RenderError {
    #[error("bad VM name: {0}")]
    Name(String),
    #[error(
        "bad VM user {0:?}: use 1-32 lower-case letters, digits, '_' or '-', starting with a letter or '_'"
    )]
    User(String),
    #[error("bad SSH public key: {0}")]
    SshKey(&'static str),
    #[error("bad agent URL {0:?}: it must be http:// or https:// with no spaces or quotes")]
    Url(String),
    #[error("bad agent sha256 {0:?}: it must be 64 hex digits")]
    Sha256(String),
    #[error("the fleet CA is not a PEM certificate")]
    CaPem,
    #[error("bad controller address {0:?} for dial mode: use HOST:PORT")]
    Controller(String),
    #[error("bad shared home {0:?}: write an NFS export HOST:/PATH")]
    SharedHome(String),
    #[error("the user-data is {size} bytes, over Azure's {MAX_CUSTOM_DATA}-byte custom data limit")]
    TooLarge { size: usize },
    #[error("bad secret path {0:?}: it must be absolute, with no NUL and no '..'")]
    Secret(String),
    #[error("the cloud-init extra cannot be merged: {0}")]
    Extra(extra::ExtraError),
}

/// Render the `#cloud-config` document for one VM.
pub fn render(data: &UserData) -> Result<String, RenderError> {
    check(data)?;
    let agent_toml = agent_toml(data);
    let values = [
        ("name", quote(&data.name)),
        ("user", quote(&data.user)),
        ("ssh_public_key", quote(data.ssh_public_key.trim())),
        ("agent_toml", quote(&agent_toml)),
        ("ca_pem", quote(&data.ca_pem)),
        ("join_token", quote(&format!("{}\n", data.join_token))),
        ("agent_unit", quote(AGENT_UNIT)),
        ("install_agent", quote(INSTALL_AGENT)),
        ("agent_guard", quote(AGENT_GUARD)),
        ("install_dev_tools", quote(INSTALL_DEV_TOOLS)),
        ("agent_url", quote(&data.agent_url)),
        ("home_uid", SHARED_HOME_UID.to_string()),
        (
            "agent_sha256",
            quote(&data.agent_sha256.to_ascii_lowercase()),
        ),
    ];
    let mut out = String::with_capacity(TEMPLATE.len() * 2);
    let mut keep = true;
    for line in TEMPLATE.lines() {
        match line.trim() {
            "#if dev_tools" => {
                keep = data.dev_tools;
                continue;
            }
            "#if shared_home" => {
                keep = data.shared_home.is_some();
                continue;
            }
            "#end" => {
                keep = true;
                continue;
            }
            _ if !keep => continue,
            _ => {}
        }
        out.push_str(&substitute(line, &values));
        out.push('\n');
    }
    if let Some(more) = &data.extra {
        out = extra::merge(&out, more).map_err(RenderError::Extra)?;
    }
    if out.len() > MAX_CUSTOM_DATA {
        return Err(RenderError::TooLarge { size: out.len() });
    }
    Ok(out)
}

/// What an existing VM runs to join the fleet (`azlin adopt`, through
/// Azure's Run Command): the files cloud-init would write for a new VM
/// (agent config, fleet CA, one-time join token, systemd unit, install
/// script), then the install script itself, which downloads the agent,
/// checks its sha256 and starts it. One line a command, as Run Command
/// takes them; file contents travel base64-encoded, so nothing in them is
/// ever read by the shell. The user must exist already (the VM's admin).
/// The last line of its output on success is [`ADOPTED`].
pub fn adopt_script(data: &UserData) -> Result<Vec<String>, RenderError> {
    check(data)?;
    let mut script = vec!["set -eu".into(), "umask 077".into()];
    script.extend(install_lines(data));
    Ok(script)
}

/// What a clone runs, through Azure's Run Command, to become a VM of its
/// own: a VM made by attaching a disk copied from another VM's snapshot
/// boots that VM's system, whose agent (bound to the VM it was copied
/// from, see the agent's `machine`) waits unused. This stops it and clears
/// what belongs to the VM copied: the agent's key, certificate, config
/// and join token; `secrets` (absolute paths: the home's files the
/// security filter blocks); the SSH host keys (made anew); the machine
/// id (made anew); the host name (now `data.name`). Then it installs the
/// agent as [`adopt_script`] does, with the clone's own join token. The
/// last line of its output on success is [`ADOPTED`].
pub fn clone_script(data: &UserData, secrets: &[String]) -> Result<Vec<String>, RenderError> {
    check(data)?;
    if let Some(bad) = secrets
        .iter()
        .find(|p| !p.starts_with('/') || p.contains('\0') || p.split('/').any(|c| c == ".."))
    {
        return Err(RenderError::Secret(bad.clone()));
    }
    let nul_separated: String = secrets.iter().map(|p| format!("{p}\0")).collect();
    let mut script = vec![
        "set -eu".into(),
        "umask 077".into(),
        "systemctl stop azlin-agent.service || true".into(),
        format!("rm -rf {AGENT_STATE_DIR}"),
        "rm -f /etc/azlin/agent.toml /etc/azlin/join-token".into(),
        format!(
            "printf '%s' '{}' | base64 -d | xargs -0 -r rm -rf --",
            b64(&nul_separated)
        ),
        "rm -f /etc/ssh/ssh_host_*".into(),
        "if command -v ssh-keygen >/dev/null; then ssh-keygen -A; fi".into(),
        "systemctl try-restart ssh.service sshd.service 2>/dev/null || true".into(),
        "rm -f /etc/machine-id".into(),
        // systemd takes D-Bus's copy of the old id when /etc has none.
        "[ -L /var/lib/dbus/machine-id ] || rm -f /var/lib/dbus/machine-id".into(),
        "systemd-machine-id-setup >/dev/null".into(),
        format!("printf '%s\\n' '{}' > /etc/hostname", data.name),
        format!(
            "hostnamectl set-hostname '{0}' 2>/dev/null || hostname '{0}' 2>/dev/null || true",
            data.name
        ),
    ];
    script.extend(install_lines(data));
    Ok(script)
}

fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// The lines that write the agent's files and install it, for a VM that
/// has its user already; `data` is checked.
fn install_lines(data: &UserData) -> Vec<String> {
    let file = |path: &str, mode: &str, content: &str| {
        format!(
            "printf '%s' '{}' | base64 -d > {path}.azlin-new && chmod {mode} {path}.azlin-new && mv -f {path}.azlin-new {path}",
            b64(content)
        )
    };
    vec![
        "mkdir -p /etc/azlin /usr/local/lib/azlin".into(),
        file("/etc/azlin/agent.toml", "0600", &agent_toml(data)),
        file("/etc/azlin/ca.crt", "0644", &data.ca_pem),
        file(
            "/etc/azlin/join-token",
            "0600",
            &format!("{}\n", data.join_token),
        ),
        file(
            "/etc/systemd/system/azlin-agent.service",
            "0644",
            AGENT_UNIT,
        ),
        file("/usr/local/lib/azlin/install-agent", "0755", INSTALL_AGENT),
        file("/usr/local/lib/azlin/agent-guard", "0755", AGENT_GUARD),
        format!(
            "/usr/local/lib/azlin/install-agent '{}' '{}'",
            data.agent_url,
            data.agent_sha256.to_ascii_lowercase()
        ),
        format!("echo '{ADOPTED}'"),
    ]
}

/// The line [`adopt_script`] and [`clone_script`] print last when the agent is installed and
/// started.
pub const ADOPTED: &str = "azlin: adopted";

/// The agent's `agent.toml` on the VM.
pub fn agent_toml(data: &UserData) -> String {
    #[derive(Serialize)]
    struct Config<'a> {
        name: &'a str,
        user: &'a str,
        state_dir: &'a str,
        ca_cert: &'a str,
        join_token_file: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        shared_home: Option<&'a str>,
        connect: Connect<'a>,
    }
    #[derive(Serialize)]
    #[serde(tag = "mode", rename_all = "lowercase")]
    enum Connect<'a> {
        Listen { listen: String },
        Dial { controller: &'a str },
    }
    let connect = match &data.connect {
        AgentConnect::Listen { port } => Connect::Listen {
            listen: format!("0.0.0.0:{port}"),
        },
        AgentConnect::Dial { controller } => Connect::Dial { controller },
    };
    let config = Config {
        name: &data.name,
        user: &data.user,
        state_dir: AGENT_STATE_DIR,
        ca_cert: "/etc/azlin/ca.crt",
        join_token_file: "/etc/azlin/join-token",
        shared_home: data.shared_home.as_deref(),
        connect,
    };
    toml::to_string(&config).expect("the agent config always serializes")
}

fn substitute(line: &str, values: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else {
            break;
        };
        let key = &rest[start + 2..start + 2 + len];
        let value = values
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("template placeholder {{{{{key}}}}} has no value"));
        out.push_str(&rest[..start]);
        out.push_str(value);
        rest = &rest[start + 2 + len + 2..];
    }
    out.push_str(rest);
    out
}

/// A YAML double-quoted scalar. JSON's string syntax is a subset of YAML's
/// double-quoted style, so serde_json's escaping is exact.
fn quote(s: &str) -> String {
    serde_json::to_string(s).expect("a string always serializes")
}

fn check(data: &UserData) -> Result<(), RenderError> {
    check_vm_name(&data.name).map_err(|e| RenderError::Name(e.to_string()))?;
    check_user(&data.user)?;
    check_ssh_key(&data.ssh_public_key)?;
    let url = &data.agent_url;
    let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
    let chars_ok = url
        .chars()
        .all(|c| c.is_ascii_graphic() && !matches!(c, '"' | '\'' | '\\' | '`'));
    if !scheme_ok || !chars_ok || url.len() > 2048 {
        return Err(RenderError::Url(url.clone()));
    }
    let sha = &data.agent_sha256;
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(RenderError::Sha256(sha.clone()));
    }
    let pem = data.ca_pem.trim();
    if !pem.starts_with("-----BEGIN CERTIFICATE-----")
        || !pem.ends_with("-----END CERTIFICATE-----")
    {
        return Err(RenderError::CaPem);
    }
    if let Some(export) = &data.shared_home {
        let req = azlin_protocol::mount::MountRequest {
            export: export.clone(),
            dir: "/home".into(),
            unmount: false,
        };
        if azlin_protocol::mount::check(&req).is_err() {
            return Err(RenderError::SharedHome(export.clone()));
        }
    }
    if let AgentConnect::Dial { controller } = &data.connect {
        let ok = controller
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
            && controller.chars().all(|c| c.is_ascii_graphic());
        if !ok {
            return Err(RenderError::Controller(controller.clone()));
        }
    }
    Ok(())
}

/// A VM user name cloud-init can create: lower-case, at most 32 characters,
/// not one the image already uses.
pub fn check_user(user: &str) -> Result<(), RenderError> {
    let bad = || RenderError::User(user.to_string());
    let mut bytes = user.bytes();
    let first = bytes.next().ok_or_else(bad)?;
    if user.len() > 32 || !(first.is_ascii_lowercase() || first == b'_') {
        return Err(bad());
    }
    if !bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-') {
        return Err(bad());
    }
    // Names cloud-init or the image already use for something else.
    if matches!(user, "root" | "daemon" | "bin" | "sys" | "nobody" | "sshd") {
        return Err(bad());
    }
    Ok(())
}

fn check_ssh_key(key: &str) -> Result<(), RenderError> {
    let key = key.trim();
    if key.contains(['\n', '\r']) {
        return Err(RenderError::SshKey("it must be one line"));
    }
    let mut parts = key.split_ascii_whitespace();
    let kind = parts.next().ok_or(RenderError::SshKey("it is empty"))?;
    let body = parts
        .next()
        .ok_or(RenderError::SshKey("it has no key after the type"))?;
    let known =
        kind.starts_with("ssh-") || kind.starts_with("ecdsa-sha2-") || kind.starts_with("sk-");
    if !known {
        return Err(RenderError::SshKey("unknown key type"));
    }
    if !body
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
    {
        return Err(RenderError::SshKey("the key is not base64"));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
