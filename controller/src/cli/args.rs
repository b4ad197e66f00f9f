//! The command line's shape: every command and flag `azlin` takes, as
//! clap derives. What each one does is in [`super`] and the modules it
//! names.

use clap::{Parser, Subcommand};

use super::{daemon_cmd, exec, ps, top, updates};

/// azlin: a fleet of Linux development VMs, one agent connection each.
///
/// `azlin -- CMD ARGS…` runs CMD on every running VM (see `azlin exec
/// --help` for the output options and exit status).
///
/// azlin keeps its state (config.toml, state.db, the fleet CA, the
/// daemon's socket and logs) in ~/.azlin, or in the folder AZLIN_HOME
/// names. Exit status: 0 on success, 1 on an error, 2 for a usage error,
/// something to set up first, or an operation the VM's provider lacks.
#[derive(Parser)]
#[command(name = "azlin", version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub output: exec::OutputArgs,
    /// Work in this Azure context (see `azlin context`) instead of the
    /// current one, for this command only.
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// The command to run on every running VM.
    #[arg(last = true, value_name = "CMD")]
    pub run: Vec<String>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Create VMs and wait until their agents have enrolled.
    ///
    /// For Azure, the size is checked in the region and against the
    /// quotas first, and its pay-as-you-go price is shown; on a terminal
    /// `new` asks before making more than one VM or anything over
    /// [azure] confirm_above_per_month.
    New(NewArgs),
    /// Run a command on the chosen VMs, through each VM user's shell.
    ///
    /// Output streams live, each line prefixed with its VM's name; with one
    /// VM it passes through unchanged and stdin is forwarded.
    ///
    /// Exit status: with one VM, the command's own (128+N if killed by
    /// signal N), 124 if it timed out, 130 if cancelled, 255 if it could
    /// not run there. With several: 0 only if every VM ran it and exited 0;
    /// else 130 if cancelled, 255 if some VM could not run it, 124 if some
    /// timed out, 1 if some exited non-zero.
    Exec {
        #[command(flatten)]
        select: exec::SelectArgs,
        #[command(flatten)]
        output: exec::OutputArgs,
        /// The command and its arguments, after `--`.
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<String>,
    },
    /// Who is logged in on each VM (runs `w`).
    W {
        #[command(flatten)]
        select: exec::SelectArgs,
    },
    /// The busiest processes on each VM, measured by its agent.
    Ps {
        #[command(flatten)]
        select: exec::SelectArgs,
        #[arg(long, value_enum, default_value = "cpu")]
        sort: ps::PsSort,
        /// Processes per VM.
        #[arg(long, default_value_t = 10)]
        top: u32,
        #[arg(long)]
        json: bool,
    },
    /// apt update and upgrade on each VM, with live progress.
    OsUpdate {
        #[command(flatten)]
        select: exec::SelectArgs,
        /// Seconds each VM gets before its update is killed.
        #[arg(long, default_value_t = updates::DEFAULT_TIMEOUT_SECS)]
        timeout: u32,
        /// Update the package lists but only simulate the upgrade.
        #[arg(long)]
        dry_run: bool,
    },
    /// Update the development tools azlin installs on each VM.
    Update {
        #[command(flatten)]
        select: exec::SelectArgs,
        /// Seconds each VM gets before its update is killed.
        #[arg(long, default_value_t = updates::DEFAULT_TIMEOUT_SECS)]
        timeout: u32,
        /// Print the update commands instead of running them.
        #[arg(long)]
        dry_run: bool,
    },
    /// A terminal in the VM's tmux session, over its agent's connection.
    ///
    /// Attaches to the tmux session (created if missing); detach (C-b d)
    /// or exit to leave, and tmux keeps running. If the connection drops,
    /// azlin reattaches as soon as the VM is back (Ctrl-C gives up).
    ///
    /// Exit status: tmux's own, 255 if the VM could not be reached or
    /// refused, 130 if you gave up waiting.
    Connect {
        /// VM or session name (default: the only running VM).
        vm: Option<String>,
        /// The tmux session (default: connect.tmux_session in config.toml,
        /// else "azlin").
        #[arg(long, value_name = "NAME")]
        tmux: Option<String>,
        /// Exit when the connection drops instead of reattaching.
        #[arg(long)]
        no_reconnect: bool,
        /// Use OpenSSH with azlin's key and pinned host keys instead of the
        /// agent connection (see `azlin ssh-config`).
        #[arg(long, conflicts_with = "no_reconnect")]
        ssh: bool,
        /// Open a new terminal window running `azlin connect VM` and
        /// return ([connect] terminal, else $TERMINAL, else
        /// gnome-terminal, konsole or xterm).
        #[arg(long, conflicts_with_all = ["ssh", "no_reconnect"])]
        new_window: bool,
    },
    /// Give a VM a session name, usable wherever a VM name is.
    Session {
        vm: String,
        /// The new session name (omit with --clear).
        #[arg(required_unless_present = "clear", conflicts_with = "clear")]
        name: Option<String>,
        /// Remove the VM's session name.
        #[arg(long)]
        clear: bool,
    },
    /// Write an OpenSSH config with a Host block per VM (for plain ssh and
    /// VS Code), with host keys pinned from what each VM's agent reports.
    ///
    /// Writes ~/.azlin/ssh/config and ~/.azlin/ssh/known_hosts, creates
    /// azlin's SSH key (~/.azlin/ssh/id_ed25519) if needed and authorizes
    /// it for each VM's user. Add `Include ~/.azlin/ssh/config` to
    /// ~/.ssh/config to use it everywhere.
    SshConfig {
        #[command(flatten)]
        select: exec::SelectArgs,
    },
    /// azlin's SSH key: rotate it on the VMs (each proven by an ssh login
    /// before the old key goes), list, back up, export.
    Keys {
        #[command(subcommand)]
        action: super::keys::KeysAction,
    },
    /// The fleet's CA: rotate it with no connection dropped, show it,
    /// retire the CAs a rotation replaced.
    Ca {
        #[command(subcommand)]
        action: super::ca::CaAction,
    },
    /// The agents' certificates: list them, or renew them now over the
    /// live connections (the daemon renews each at two thirds of its
    /// life by itself).
    Certs {
        #[command(subcommand)]
        action: super::certs::CertsAction,
    },
    /// Print the shell's completion registration: `source <(azlin
    /// completions bash)` (zsh likewise; fish: `azlin completions fish |
    /// source`). VM and session names complete from the running daemon.
    Completions {
        #[arg(value_enum)]
        shell: super::completions::Shell,
    },
    /// The VM user's environment variables azlin manages (one file on the
    /// VM, sourced by new shells and given to `exec` and `connect`): set,
    /// list (masked unless --show), unset, export, import, clear.
    Env {
        #[command(subcommand)]
        action: super::env::EnvAction,
    },
    /// A VM's logs through its agent: the journal, a unit's, the agent's,
    /// cloud-init's, or a file under /var/log or the home; --follow until
    /// Ctrl-C.
    Logs(super::logs::LogsArgs),
    /// Git repositories on a VM: `repo clone VM URL [DIR]`, as the VM
    /// user, through its agent (this machine's `gh` token goes with an
    /// https clone, never written on the VM).
    Repo {
        #[command(subcommand)]
        action: super::repo::RepoAction,
    },
    /// Green, yellow or red per VM with the reasons, from its agent:
    /// cloud-init, development tools, failed units, disk and inodes,
    /// memory, clock skew, reboot and security updates, NFS mounts, sshd.
    /// A VM that cannot be asked is red and says when it was last heard
    /// from.
    Health {
        #[command(flatten)]
        select: exec::SelectArgs,
        #[arg(long)]
        json: bool,
    },
    /// Copy files and folders over the agents' connections: local to a
    /// VM, a VM to here, or VM to VM (`VM:PATH`, VM or session name; PATH
    /// absolute, ~/… or relative to the VM user's home; a trailing /
    /// means a folder). Secrets are never sent to a VM, noise is skipped
    /// (see the README); each file is checked with BLAKE3 and lands whole
    /// or not at all; a rerun resumes an interrupted copy.
    Cp {
        #[arg(required = true, num_args = 2.., value_name = "SRC… DST")]
        paths: Vec<String>,
        /// Copy folders and everything in them.
        #[arg(short, long)]
        recursive: bool,
        /// Also send what is skipped as noise (never secrets).
        #[arg(long)]
        force: bool,
        /// List what would be sent and what is left out, send nothing.
        #[arg(long)]
        dry_run: bool,
        /// A JSON summary.
        #[arg(long)]
        json: bool,
    },
    /// Copy ~/.azlin/home/ (dotfiles) to the home of every chosen VM (all
    /// by default), only what changed, all VMs at once, through the same
    /// security filter as cp.
    Sync {
        #[command(flatten)]
        select: exec::SelectArgs,
        /// Also send what is skipped as noise (never secrets).
        #[arg(long)]
        force: bool,
        /// List what would be sent and what is left out, send nothing.
        #[arg(long)]
        dry_run: bool,
        /// A JSON summary per VM.
        #[arg(long)]
        json: bool,
        /// Mirror LOCAL_DIR to each VM:DIR and keep mirroring every change
        /// (create, modify, rename, delete) until Ctrl-C.
        #[arg(long, num_args = 2.., value_name = "LOCAL_DIR VM:DIR", conflicts_with_all = ["dry_run", "json"])]
        watch: Option<Vec<String>>,
    },
    /// Alerts firing now and recent history. Rules live in
    /// ~/.azlin/alerts.toml (see the README); the daemon reloads it when
    /// it changes.
    Alerts {
        /// Print every alert event as it happens, until Ctrl-C.
        #[arg(long)]
        follow: bool,
        /// How many past events to show.
        #[arg(long, default_value_t = 20, value_name = "N")]
        history: u32,
        /// JSON (with --follow: one object per line, the webhook body).
        #[arg(long)]
        json: bool,
    },
    /// Set or remove a VM's tags.
    Tag {
        vm: String,
        /// Tags to set.
        #[arg(value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Tag keys to remove (repeatable).
        #[arg(long, value_name = "KEY")]
        remove: Vec<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        scope: AzureScope,
    },
    /// List the fleet.
    List {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        scope: AzureScope,
    },
    /// Show one VM, or every VM, with its live figures and tmux sessions.
    Status {
        vm: Option<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        scope: AzureScope,
    },
    /// Live dashboard of the whole fleet (one table when not on a terminal).
    Top {
        /// Print one table and exit.
        #[arg(long)]
        once: bool,
        /// Print the figures as JSON and exit.
        #[arg(long)]
        json: bool,
        /// Initial order (keys c, m, d, n change it on the dashboard).
        #[arg(long, value_enum, default_value = "cpu")]
        sort: top::Sort,
        /// Only VMs whose name or session name contains this.
        #[arg(long, default_value = "")]
        filter: String,
    },
    /// Start a stopped VM and wait until its agent has connected again.
    Start {
        vm: String,
        /// Return once the provider has started the VM, without waiting
        /// for its agent.
        #[arg(long)]
        no_wait: bool,
        #[command(flatten)]
        scope: AzureScope,
    },
    /// Stop a VM (it stays in the fleet). An Azure VM is deallocated, so
    /// its compute stops being billed.
    Stop {
        vm: String,
        /// Azure: power off but keep the VM allocated (faster to start,
        /// still billed).
        #[arg(long)]
        no_deallocate: bool,
        #[command(flatten)]
        scope: AzureScope,
    },
    /// What Azure billed (Cost Management's actual cost), by day, and
    /// with --by-vm by VM with everything it owns; this month so far by
    /// default. `cost history` shows the kept days and their trend.
    Cost(CostArgs),
    /// Shared NFS 4.1 storage for the VMs (Azure Files Premium, reachable
    /// only from azlin's subnet): create, list, status, delete.
    Storage {
        #[command(subcommand)]
        action: StorageAction,
    },
    /// New VMs made from one as it is now, in parallel: each a new
    /// identity (agent key and certificate, join token, SSH host keys,
    /// name) with the source's home less its secrets (the files `cp`
    /// blocks). The source keeps running.
    Clone {
        src: String,
        /// Default: SRC-clone (SRC-clone-1 … with several).
        #[arg(long)]
        name: Option<String>,
        #[arg(long, default_value_t = 1, value_name = "K")]
        num_replicas: u32,
        #[arg(long)]
        json: bool,
    },
    /// Delete what azlin's resource groups hold and nothing uses:
    /// unattached disks, NICs on no VM, public IPs on nothing, NSGs on
    /// nothing, deployment records of VMs that are gone; each with its age
    /// and price. Never lists what is in use (a NAT gateway's or load
    /// balancer's IP, a private endpoint's NIC), what azlin did not tag
    /// (unless --include-untagged), or anything less than an hour old.
    /// Asks on a terminal; --dry-run changes nothing.
    Cleanup(CleanupArgs),
    /// Delete the fleet's VMs its history shows unused for N days: stopped
    /// (no sample from the agent since) or idle (CPU below 3% at every
    /// sample). Never one younger than that, one azlin did not make, or a
    /// machine you registered. Asks on a terminal; --dry-run changes
    /// nothing.
    Prune(PruneArgs),
    /// Named Azure contexts (~/.azlin/contexts.toml), kubectl-style: a
    /// subscription with its tenant, resource group and region. The
    /// current one (or --context NAME) is where Azure commands work when
    /// --subscription / --resource-group leave it out, and the only Azure
    /// VMs they see.
    Context {
        #[command(subcommand)]
        action: ContextAction,
    },
    /// Named sets of `new` choices (~/.azlin/templates/NAME.toml) for
    /// `azlin new --template NAME`: create, list, show, delete.
    Template {
        #[command(subcommand)]
        action: TemplateAction,
    },
    /// Point-in-time copies of a VM (docker: an image taken while the
    /// agent holds the VM still; local: a copy of its home), restored in
    /// place with the VM's agent identity kept: create, list, delete,
    /// restore.
    Snapshot {
        #[command(subcommand)]
        action: SnapshotAction,
    },
    /// A VM's power schedule, run by the daemon: stop (and start) at a
    /// time of day on some days in a time zone. A daily stop of an Azure
    /// VM is also written to Azure's own auto-shutdown, so it happens
    /// while this machine sleeps. `schedule list`, `schedule clear VM`.
    Schedule(ScheduleArgs),
    /// Deallocate a VM once it has been idle this long (no terminal
    /// attached, no command from azlin running, CPU below --cpu), with a
    /// warning alert first. `autostop list`; `--off` turns it off.
    Autostop(AutostopArgs),
    /// Keep a VM with autostop up for a while (`azlin keepalive VM 4h`).
    Keepalive { vm: String, duration: String },
    /// Bring Azure VMs azlin did not make into the fleet, without SSH:
    /// Run Command installs the agent (from the subscription's store,
    /// sha256 checked) and the NSGs on the VM admit its port from
    /// allowed_cidr only. The VM must be running Linux. `--dry-run` says
    /// what would change.
    Adopt {
        #[arg(required = true)]
        vms: Vec<String>,
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        scope: AzureScope,
    },
    /// The agents on the VMs.
    Agent {
        #[command(subcommand)]
        action: AgentAction,
    },
    /// Delete a VM and revoke its certificate (as `destroy`).
    Kill {
        vm: String,
        /// Delete without asking; needed for an Azure VM azlin did not
        /// make when there is no terminal to ask on.
        #[arg(long, short = 'y')]
        yes: bool,
        #[command(flatten)]
        scope: AzureScope,
    },
    /// Delete a VM and everything azlin made for it; `--dry-run` lists
    /// what would go. On a terminal it shows that and asks first. An
    /// Azure VM azlin did not make goes with only what it owns (NIC, the
    /// public IP on it, OS disk, its NSG when nothing else uses it).
    Destroy {
        vm: String,
        #[arg(long)]
        dry_run: bool,
        /// Delete without asking; needed for an Azure VM azlin did not
        /// make when there is no terminal to ask on.
        #[arg(long, short = 'y')]
        yes: bool,
        #[command(flatten)]
        scope: AzureScope,
    },
    /// Restart a VM (an Azure VM reboots; a container or local agent is
    /// stopped and started).
    Restart {
        vm: String,
        #[command(flatten)]
        scope: AzureScope,
    },
    /// Change an Azure VM's size (Azure restarts it if it must).
    Resize {
        vm: String,
        size: String,
        #[command(flatten)]
        scope: AzureScope,
    },
    /// Delete every VM (asks first on a terminal).
    Killall {
        /// Confirm without asking: delete the whole fleet.
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        scope: AzureScope,
    },
    /// Print a new one-time join token for VM (to re-enroll its agent).
    Token {
        vm: String,
        /// Seconds until the token expires (default: daemon.token_ttl_secs).
        #[arg(long)]
        ttl: Option<u64>,
    },
    /// Manage the background daemon.
    Daemon {
        #[command(subcommand)]
        action: daemon_cmd::DaemonAction,
    },
}

/// `--subscription` / `--resource-group` on the commands that act on VMs:
/// only Azure VMs there count. A lifecycle command on a VM elsewhere is
/// refused (the name may be another VM's than the one meant); `list`,
/// `status` and `killall` keep to the VMs there.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AzureScope {
    /// Azure: only VMs in this subscription (its id).
    #[arg(long)]
    pub subscription: Option<String>,
    /// Azure: only VMs in this resource group.
    #[arg(long)]
    pub resource_group: Option<String>,
}

impl AzureScope {
    /// Neither flag given.
    pub fn is_empty(&self) -> bool {
        self.subscription.is_none() && self.resource_group.is_none()
    }

    pub fn target(self) -> crate::azure::context::Target {
        crate::azure::context::Target {
            subscription: self.subscription,
            resource_group: self.resource_group,
            context: None,
        }
    }
}

/// `azlin cleanup`'s flags.
#[derive(clap::Args, Debug)]
pub struct CleanupArgs {
    /// List the orphans and what they cost; delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Delete without asking.
    #[arg(long)]
    pub yes: bool,
    /// Only what is at least DAYS old.
    #[arg(long, value_name = "DAYS", default_value_t = 0)]
    pub older_than: u32,
    /// Also what azlin did not tag `managed-by=azlin` (the user's own
    /// resources in those groups).
    #[arg(long)]
    pub include_untagged: bool,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub scope: AzureScope,
}

/// `azlin prune`'s flags.
#[derive(clap::Args, Debug)]
pub struct PruneArgs {
    /// Unused for this many days (at most `[metrics] retention_days`).
    #[arg(long, value_name = "N", default_value_t = 7)]
    pub idle_days: u32,
    /// List the VMs and why; delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Delete without asking.
    #[arg(long)]
    pub yes: bool,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub scope: AzureScope,
}

/// `azlin autostop`'s flags.
#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AutostopArgs {
    #[command(subcommand)]
    pub action: Option<AutostopAction>,
    pub vm: Option<String>,
    /// How long idle before it is deallocated: 30m, 2h, 1h30m.
    #[arg(long, conflicts_with = "off")]
    pub idle: Option<String>,
    /// CPU percent below which the VM counts as idle.
    #[arg(long, default_value_t = 5.0)]
    pub cpu: f64,
    #[arg(long)]
    pub off: bool,
}

#[derive(clap::Subcommand, Debug)]
pub enum AutostopAction {
    /// Every VM with autostop, and how long each has been idle.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum StorageAction {
    /// Make a storage and its NFS share `home`, locked down: root
    /// squashed, no public access, reachable only from azlin's subnet.
    /// Again for one that exists brings it to that (idempotent).
    Create {
        /// 3-24 lower-case letters and digits, unique across Azure.
        name: String,
        /// Provisioned size, GiB (Premium: 100 to 102400; billed by it).
        #[arg(long, default_value_t = 100, value_name = "GIB")]
        size: u32,
        /// Premium (NFS 4.1 needs it; Standard is refused, saying why).
        #[arg(long, default_value = "Premium")]
        tier: String,
        /// Where (default: default_provider in config.toml, else azure).
        #[arg(long)]
        provider: Option<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        scope: AzureScope,
    },
    /// Every storage azlin made: size, use, who may reach it, price.
    List {
        #[arg(long)]
        provider: Option<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        scope: AzureScope,
    },
    /// One storage.
    Status {
        name: String,
        #[arg(long)]
        provider: Option<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        scope: AzureScope,
    },
    /// Mount a storage on a VM through its agent (no SSH): at --path
    /// (default /mnt/NAME), NFS 4.1, with an /etc/fstab line so it comes
    /// back after a reboot. The VM's provider's storage.
    Mount {
        name: String,
        #[arg(long)]
        vm: String,
        #[arg(long, value_name = "DIR")]
        path: Option<String>,
    },
    /// Unmount exactly that storage from the VM and remove its /etc/fstab
    /// line; a busy mount is named with the processes holding it.
    Unmount {
        name: String,
        #[arg(long)]
        vm: String,
        #[arg(long, value_name = "DIR")]
        path: Option<String>,
    },
    /// Delete a storage and every file on it (asks on a terminal).
    Delete {
        name: String,
        #[arg(long)]
        provider: Option<String>,
        /// Say what would be deleted; delete nothing.
        #[arg(long)]
        dry_run: bool,
        /// Delete without asking (needed without a terminal).
        #[arg(long, short = 'y')]
        yes: bool,
        /// Delete even while VMs have it mounted, or cannot be asked.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        scope: AzureScope,
    },
}

#[derive(Debug, Subcommand)]
pub enum ContextAction {
    /// Add a context (it is not used until `azlin context use NAME`).
    Create {
        name: String,
        /// The subscription id (a GUID).
        #[arg(long)]
        subscription: String,
        /// Sign in to this tenant (id or domain) for it.
        #[arg(long)]
        tenant: Option<String>,
        /// Where new VMs go, and the only group its commands look in.
        #[arg(long)]
        resource_group: Option<String>,
        /// Where new VMs go (over [azure] location).
        #[arg(long)]
        region: Option<String>,
    },
    /// Make NAME the current context, once Azure has answered for its
    /// subscription with your sign-in (one ARM call); nothing changes
    /// otherwise.
    Use { name: String },
    /// The contexts, the current one marked with `*`.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One context (default: the one in use).
    Show {
        name: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Forget a context (nothing in Azure changes).
    Delete { name: String },
    /// Rename a context (the current one stays current).
    Rename { from: String, to: String },
    /// Turn config.toml's [azure] subscription, resource_group and
    /// location into a context and make it the current one (config.toml
    /// is left as it is).
    Migrate {
        /// The new context's name.
        #[arg(default_value = "default")]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TemplateAction {
    /// Make a template from these choices (checked as `new` would).
    Create {
        name: String,
        #[arg(long)]
        provider: Option<String>,
        #[arg(long)]
        size: Option<String>,
        #[arg(long, visible_alias = "location")]
        region: Option<String>,
        #[arg(long)]
        image: Option<String>,
        #[arg(long)]
        admin_user: Option<String>,
        #[arg(long, value_name = "GB")]
        disk_size: Option<u32>,
        #[arg(long = "tag", value_name = "KEY=VALUE")]
        tags: Vec<String>,
        #[arg(long)]
        no_dev_tools: bool,
        #[arg(long, value_name = "STORAGE")]
        nfs_storage: Option<String>,
        /// A #cloud-config file, kept in the template and merged after
        /// azlin's parts when a VM is made from it.
        #[arg(long, value_name = "FILE")]
        cloud_init_extra: Option<std::path::PathBuf>,
        /// Replace a template of that name.
        #[arg(long)]
        force: bool,
    },
    /// The templates there are.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One template, as its file holds it.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete a template (asks on a terminal).
    Delete {
        name: String,
        #[arg(long)]
        dry_run: bool,
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SnapshotAction {
    /// Take a snapshot of a VM now (running or stopped).
    Create {
        vm: String,
        /// Default: VM-YYYYMMDD-HHMMSS (UTC).
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        scope: AzureScope,
    },
    /// The snapshots azlin keeps (of one VM, when named), oldest first.
    List {
        vm: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Delete a snapshot (asks on a terminal).
    Delete {
        name: String,
        /// Say what would be deleted; delete nothing.
        #[arg(long)]
        dry_run: bool,
        /// Delete without asking (needed without a terminal).
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Put a VM back to one of its snapshots: what it ran on is set aside
    /// (kept unless --delete-old) and it starts again with its agent
    /// identity as it is now, no new enrollment (asks on a terminal).
    Restore {
        vm: String,
        name: String,
        /// Say what would happen; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Delete what the VM ran on before instead of keeping it.
        #[arg(long)]
        delete_old: bool,
        /// Restore without asking (needed without a terminal).
        #[arg(long, short = 'y')]
        yes: bool,
        #[command(flatten)]
        scope: AzureScope,
    },
    /// Snapshots taken by the daemon, with no command from you: every
    /// --every, keeping the newest --keep it took (one missed while the
    /// daemon was down is taken when it starts). `snapshot schedule
    /// list`, `snapshot schedule clear VM`.
    Schedule(SnapshotScheduleArgs),
}

/// `azlin snapshot schedule`'s flags.
#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SnapshotScheduleArgs {
    #[command(subcommand)]
    pub action: Option<SnapshotScheduleAction>,
    pub vm: Option<String>,
    /// How often: 1d, 6h, 30m (at least 10s).
    #[arg(long)]
    pub every: Option<String>,
    /// How many of the snapshots it took to keep (1 to 100).
    #[arg(long, default_value_t = 7)]
    pub keep: u32,
}

#[derive(clap::Subcommand, Debug)]
pub enum SnapshotScheduleAction {
    /// Every VM's snapshot schedule.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a VM's snapshot schedule (the snapshots it took are kept).
    Clear { vm: String },
}

/// `azlin schedule`'s flags.
#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ScheduleArgs {
    #[command(subcommand)]
    pub action: Option<ScheduleAction>,
    pub vm: Option<String>,
    /// Stop (an Azure VM is deallocated) at HH:MM.
    #[arg(long, value_name = "HH:MM")]
    pub stop: Option<String>,
    /// Start again at HH:MM.
    #[arg(long, value_name = "HH:MM")]
    pub start: Option<String>,
    /// Mon-Fri, Sat,Sun, Mon,Wed,Fri or daily.
    #[arg(long, default_value = "daily")]
    pub days: String,
    /// The start's days, when not --days (a weekend off: --days Fri
    /// --start-days Mon).
    #[arg(long, value_name = "DAYS", requires = "start")]
    pub start_days: Option<String>,
    /// An IANA zone such as Europe/London (default: this machine's).
    #[arg(long)]
    pub tz: Option<String>,
}

#[derive(clap::Subcommand, Debug)]
pub enum ScheduleAction {
    /// Every VM's schedule.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a VM's schedule (and its auto-shutdown in Azure).
    Clear { vm: String },
}

/// `azlin cost`'s flags.
#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct CostArgs {
    #[command(subcommand)]
    pub action: Option<CostAction>,
    /// Each VM with its disks, NICs, public IPs, NSG and snapshots; the
    /// rest as "shared".
    #[arg(long)]
    pub by_vm: bool,
    /// First day (UTC), YYYY-MM-DD; default: the first of --to's month.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub from: Option<String>,
    /// Last day (UTC), YYYY-MM-DD; default: today.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub to: Option<String>,
    /// Add this month's projection: Azure's figure so far plus the rest of
    /// the month at the running VMs' pay-as-you-go prices.
    #[arg(long)]
    pub estimate: bool,
    #[arg(long)]
    pub json: bool,
    /// The whole subscription, not only the resource group.
    #[arg(long)]
    pub whole_subscription: bool,
    #[command(flatten)]
    pub scope: AzureScope,
}

#[derive(clap::Subcommand, Debug)]
pub enum CostAction {
    /// A monthly budget for the resource group (or the whole
    /// subscription), checked by the daemon whenever cost data refreshes.
    Budget {
        #[command(subcommand)]
        action: BudgetAction,
    },
    /// One screen of cost: this month and its projection, today and
    /// yesterday, this week against the last, the resources that cost
    /// most. Full screen, refreshed each minute (q quits); --once prints
    /// it once.
    Dashboard {
        #[arg(long)]
        once: bool,
        #[arg(long, conflicts_with = "once")]
        json: bool,
        #[arg(long)]
        whole_subscription: bool,
        #[command(flatten)]
        scope: AzureScope,
    },
    /// What to cut, each with its saving a month and where that figure
    /// comes from: oversized VMs (their agents' week), VMs stopped but
    /// still billed, unattached disks and public IPs, old snapshots.
    Recommend {
        #[arg(long)]
        json: bool,
        /// Snapshots older than this are recommended for deletion.
        #[arg(long, default_value_t = 30)]
        snapshot_days: u32,
        #[arg(long)]
        whole_subscription: bool,
        #[command(flatten)]
        scope: AzureScope,
    },
    /// Carry out recommendations by ID (resize, deallocate, delete). On a
    /// terminal it shows what it will do and asks; --dry-run changes
    /// nothing.
    Apply {
        #[arg(required = true)]
        ids: Vec<String>,
        #[arg(long)]
        dry_run: bool,
        /// Do not ask; needed without a terminal.
        #[arg(long, short = 'y')]
        yes: bool,
        #[arg(long, default_value_t = 30)]
        snapshot_days: u32,
        #[arg(long)]
        whole_subscription: bool,
        #[command(flatten)]
        scope: AzureScope,
    },
    /// The daily cost kept in state.db (brought up to date from Azure
    /// first), its trend and the days far from the mean.
    History {
        /// The last N days, today included.
        #[arg(long, default_value_t = 30)]
        days: u32,
        #[arg(long)]
        json: bool,
        /// The whole subscription, not only the resource group.
        #[arg(long)]
        whole_subscription: bool,
        #[command(flatten)]
        scope: AzureScope,
    },
}

#[derive(clap::Subcommand, Debug)]
pub enum BudgetAction {
    /// Set the budget: AMOUNT in the bill's currency a month. Each
    /// threshold crossed is an alert event (`azlin alerts` and the
    /// channels of alerts.toml), once a month; `stop` also deallocates the
    /// running VMs azlin made there.
    Set {
        #[arg(allow_hyphen_values = true)]
        amount: String,
        /// PERCENT:ACTION, action notify, alert or stop (repeatable;
        /// default 50:notify 80:alert 100:alert).
        #[arg(long = "threshold", value_name = "PERCENT:ACTION")]
        thresholds: Vec<String>,
        /// Write it to Azure too (Microsoft.Consumption/budgets), so its
        /// e-mails go out while this machine is off; Azure's budget only
        /// e-mails.
        #[arg(long)]
        azure: bool,
        /// Where Azure's budget e-mails go (with --azure; repeatable).
        #[arg(long = "email", value_name = "ADDRESS")]
        emails: Vec<String>,
        /// How long a stop threshold's notice comes before the VMs are
        /// deallocated (default 10m, or the budget's own; 0: at once).
        /// Raising the budget above the spend, or clearing it, in between
        /// calls the stop off.
        #[arg(long, value_name = "WAIT")]
        stop_grace: Option<String>,
        #[arg(long)]
        whole_subscription: bool,
        #[command(flatten)]
        scope: AzureScope,
    },
    /// The budget and where this month stands against it.
    Show {
        #[arg(long)]
        json: bool,
        #[arg(long)]
        whole_subscription: bool,
        #[command(flatten)]
        scope: AzureScope,
    },
    /// Remove the budget (from Azure too, if it was written there).
    Clear {
        #[arg(long)]
        whole_subscription: bool,
        #[command(flatten)]
        scope: AzureScope,
    },
}

/// `azlin new`'s flags.
#[derive(clap::Args, Debug)]
pub struct NewArgs {
    /// Where the VMs run: `local` (agent processes on this machine),
    /// `docker` (containers booted by systemd and cloud-init) or
    /// `azure` (Azure VMs through ARM) or `external` (machines you run;
    /// prints a join token for each). Default: `default_provider` in
    /// config.toml, else `azure` when [azure] subscription is set,
    /// else `local`.
    #[arg(long)]
    pub provider: Option<String>,
    /// VM name; with --pool N the VMs are NAME-1 … NAME-N.
    #[arg(long)]
    pub name: Option<String>,
    /// How many VMs to create.
    #[arg(long, default_value_t = 1)]
    pub pool: u32,
    /// Agents dial the daemon (needs [daemon] listen in config.toml)
    /// instead of waiting to be dialled.
    #[arg(long)]
    pub dial: bool,
    /// Label the VMs (repeatable), for `--tag` selection.
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    pub tags: Vec<String>,
    /// Skip the development tools cloud-init would install after the
    /// agent (git, docker, Python, Node, Rust, gh, az).
    #[arg(long)]
    pub no_dev_tools: bool,
    /// Put the VM user's home on this shared storage (`azlin storage
    /// create`): checked before the VM is made, mounted by its agent at
    /// first boot, the skeleton copied in only when the share is empty.
    #[arg(long, value_name = "STORAGE")]
    pub nfs_storage: Option<String>,
    /// Start from template NAME (`azlin template create`); flags given
    /// here win over it.
    #[arg(long, value_name = "NAME")]
    pub template: Option<String>,
    /// Your own #cloud-config, merged after azlin's parts (its runcmd,
    /// write_files, packages, bootcmd and users after azlin's; a key
    /// azlin sets is refused). docker and Azure VMs.
    #[arg(long, value_name = "FILE")]
    pub cloud_init_extra: Option<std::path::PathBuf>,
    /// Azure: the subscription (else [azure] subscription, else
    /// AZURE_SUBSCRIPTION_ID, else the Azure CLI's default).
    #[arg(long)]
    pub subscription: Option<String>,
    /// Azure: the resource group (else [azure] resource_group).
    #[arg(long)]
    pub resource_group: Option<String>,
    /// Print the new VMs (for `--provider external`: the controller
    /// address, the CA and each machine's join token) as JSON.
    #[arg(long)]
    pub json: bool,
    /// Azure: the VM size (else [azure] vm_size, else Standard_D2s_v5).
    #[arg(long)]
    pub size: Option<String>,
    /// Azure: the region (else [azure] location, else westus2).
    #[arg(long, visible_alias = "location")]
    pub region: Option<String>,
    /// Azure: the image, as PUBLISHER:OFFER:SKU:VERSION or one of
    /// ubuntu-24.04 (the default), ubuntu-22.04, debian-12, debian-13.
    #[arg(long)]
    pub image: Option<String>,
    /// Azure: the VM's login user (else [azure] admin_user, else
    /// azureuser).
    #[arg(long)]
    pub admin_user: Option<String>,
    /// Azure: the OS disk's size in GB (30 to 4095; else the image's).
    #[arg(long, value_name = "GB")]
    pub disk_size: Option<u32>,
    /// Create without asking, whatever the count or price.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Clone this repository on each new VM, in its user's home (as
    /// `azlin repo clone`).
    #[arg(long, value_name = "URL")]
    pub repo: Option<String>,
    /// On a terminal, one new VM is followed by `azlin connect` into its
    /// tmux session; this leaves it at the summary.
    #[arg(long)]
    pub no_connect: bool,
}

#[derive(Subcommand, Debug)]
pub enum AgentAction {
    /// Send a new agent binary to the chosen VMs over their connections, a
    /// few at a time: each checks its sha256, keeps the old one and
    /// restarts into the new one under systemd. A VM whose new agent does
    /// not reach the controller in time puts the old one back by itself,
    /// and the upgrade stops there. Running commands finish first.
    Upgrade {
        #[command(flatten)]
        select: super::exec::SelectArgs,
        /// The binary to send (default: the azlin-agent beside this azlin).
        #[arg(long)]
        binary: Option<std::path::PathBuf>,
        /// Most VMs upgrading at once.
        #[arg(long, default_value_t = 1)]
        parallel: u32,
        /// Seconds a new agent has to reach the controller before its VM
        /// puts the previous one back.
        #[arg(long, default_value_t = 60)]
        timeout: u32,
    },
}
