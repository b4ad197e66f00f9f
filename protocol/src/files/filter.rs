//! The security filter on what may be copied to a VM: by name (secrets are
//! blocked, noise is skipped, a few well-known safe files are allowed
//! despite the patterns) and by content (private keys and cloud tokens are
//! blocked wherever they hide). The CLI runs it before sending and the
//! agent runs it again on what it receives, so a hand-crafted client gets
//! no further.
//!
//! Patterns use `/` between folders: `*` and `?` stay within one name,
//! `**` spans folders. A pattern with no `/` matches a name at any depth
//! (`*.pem`); one with `/` matches a path ending at any depth
//! (`.ssh/id_*` matches `work/.ssh/id_rsa`).
//!
//! Not here: walking folders or reading files (the callers feed names and
//! bytes), or path safety (see [`super::path`]).

/// Secrets: never sent, whatever `--force` says.
pub const BLOCKED: &[&str] = &[
    ".ssh/id_*",
    ".ssh/*id_rsa",
    ".ssh/*id_ed25519",
    ".ssh/*_key",
    ".ssh/*.pem",
    ".aws/credentials",
    ".aws/config",
    ".config/gcloud/**/*.json",
    ".config/gcloud/credentials*",
    ".config/gcloud/access_tokens.db",
    ".azure/service_principal*.json",
    "*.key",
    "*.pem",
    "*.p12",
    "*.pfx",
    "credentials",
    "credentials.*",
    "*credentials*",
    ".env",
    ".env.*",
    // Keys and tokens other tools keep in files of their own.
    "*.ppk",
    ".kube/config",
    ".docker/config.json",
    ".netrc",
    ".pypirc",
    ".git-credentials",
    ".azure/msal_token_cache.*",
    ".azure/accessTokens.json",
    ".config/gh/hosts.yml",
];

/// Noise: skipped unless `--force` (caches, databases, build output,
/// browser profiles).
pub const SKIPPED: &[&str] = &[
    "*.db",
    "*.sqlite*",
    ".git/**",
    "__pycache__/**",
    "*.pyc",
    "node_modules/**",
    ".venv/**",
    "venv/**",
    ".cargo/registry/**",
    ".cargo/git/**",
    ".rustup/toolchains/**",
    ".npm/**",
    ".cache/**",
    ".mozilla/**",
    ".config/google-chrome/**",
    ".config/chromium/**",
    ".config/BraveSoftware/**",
    ".config/microsoft-edge/**",
    "snap/firefox/**",
    "snap/chromium/**",
];

/// Allowed despite the patterns above (the name checks only; their
/// content is still scanned).
pub const ALLOWED: &[&str] = &[
    ".ssh/config",
    ".ssh/known_hosts",
    "*.pub",
    ".env.example",
    ".env.template",
    ".env.sample",
];

/// The file that adds patterns to skip, one per line, `#` comments.
pub const EXCLUDE_FILE: &str = ".azlin-sync-exclude";

/// What the filter says about one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Send,
    /// A secret: reported, never sent.
    Blocked(String),
    /// Noise or excluded by the user: reported, not sent.
    Skipped(String),
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Extra patterns from `.azlin-sync-exclude`.
    pub excludes: Vec<String>,
    /// Send noise too (never secrets).
    pub force: bool,
}

impl Filter {
    /// Read exclude patterns from the text of an exclude file.
    pub fn with_excludes(mut self, text: &str) -> Self {
        self.excludes.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(|l| l.trim_start_matches('/').to_string()),
        );
        self
    }

    /// Judge a relative path (`/` between names) by its name alone.
    pub fn by_name(&self, rel: &str) -> Verdict {
        if ALLOWED.iter().any(|p| matches(p, rel)) {
            return Verdict::Send;
        }
        if let Some(p) = BLOCKED.iter().find(|p| matches(p, rel)) {
            return Verdict::Blocked(format!("looks like a secret (matches {p})"));
        }
        if let Some(p) = self.excludes.iter().find(|p| matches(p, rel)) {
            return Verdict::Skipped(format!("excluded by {EXCLUDE_FILE} ({p})"));
        }
        if !self.force
            && let Some(p) = SKIPPED.iter().find(|p| matches(p, rel))
        {
            return Verdict::Skipped(format!("noise (matches {p}; --force sends it)"));
        }
        Verdict::Send
    }
}

/// Whether `pattern` matches the relative path `rel` (see the module docs).
pub fn matches(pattern: &str, rel: &str) -> bool {
    let path: Vec<&str> = rel.split('/').filter(|c| !c.is_empty()).collect();
    let pat: Vec<&str> = pattern.split('/').filter(|c| !c.is_empty()).collect();
    if pat.is_empty() || path.is_empty() {
        return false;
    }
    if pat.len() == 1 {
        // A bare name pattern: the file's own name, or any folder on the
        // way when it ends in `/**`-like use (a folder name such as `.git`).
        return path.iter().any(|c| wildcard(pat[0], c));
    }
    (0..path.len()).any(|start| components(&pat, &path[start..]))
}

/// Match pattern components against path components, `**` spanning any
/// number of them; a pattern ending in `**` matches everything below.
fn components(pat: &[&str], path: &[&str]) -> bool {
    match pat.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| components(rest, &path[skip..])),
        Some((first, rest)) => match path.split_first() {
            Some((name, below)) => wildcard(first, name) && components(rest, below),
            None => false,
        },
    }
}

/// `*` any run of characters, `?` exactly one, within one name.
pub fn wildcard(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Finds secrets in a file's bytes as they stream past, chunk by chunk,
/// without holding the file: keeps only a short tail so a secret split
/// across two chunks is still seen.
#[derive(Debug, Default)]
pub struct ContentScan {
    tail: Vec<u8>,
    found: Option<String>,
}

/// Longest secret marker looked for, so the tail kept between chunks.
const TAIL: usize = 96;
/// Bytes past its end that a scan of one piece of a file must also see,
/// for a secret across the seam to be found (see `parallel_digest`).
pub(crate) const SEAM: usize = TAIL;

impl ContentScan {
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.found.is_some() {
            return;
        }
        // Only the seam needs the tail: scan tail+head of the chunk, then
        // the chunk itself, without copying the chunk.
        let head = &chunk[..chunk.len().min(TAIL)];
        let mut seam = std::mem::take(&mut self.tail);
        seam.extend_from_slice(head);
        self.found = find_secret(&seam).or_else(|| find_secret(chunk));
        if chunk.len() >= TAIL {
            self.tail = chunk[chunk.len() - TAIL..].to_vec();
        } else {
            let keep = seam.len().min(TAIL);
            self.tail = seam[seam.len() - keep..].to_vec();
        }
    }

    /// Take over what a scan of a later part of the same content found,
    /// unless this one found something first.
    pub(crate) fn absorb(&mut self, later: ContentScan) {
        if self.found.is_none() {
            self.found = later.found;
        }
    }

    /// The kind of secret seen, if any.
    pub fn found(&self) -> Option<&str> {
        self.found.as_deref()
    }
}

/// What the content scan looks for, and what each is; the shape after a
/// token prefix is checked where one is found ([`shape_holds`]).
const NEEDLES: [(&[u8], Kind); 22] = [
    (b"PRIVATE KEY-----", Kind::PrivateKey),
    (b"PRIVATE KEY BLOCK-----", Kind::PrivateKey),
    (b"PuTTY-User-Key-File-", Kind::PrivateKey),
    (b"AccountKey=", Kind::AzureKey),
    (b"AKIA", Kind::Aws),
    (b"ASIA", Kind::Aws),
    (b"ghp_", Kind::GitHub),
    (b"gho_", Kind::GitHub),
    (b"ghu_", Kind::GitHub),
    (b"ghs_", Kind::GitHub),
    (b"ghr_", Kind::GitHub),
    (b"github_pat_", Kind::GitHub),
    (b"xoxa-", Kind::Slack),
    (b"xoxb-", Kind::Slack),
    (b"xoxp-", Kind::Slack),
    (b"xoxo-", Kind::Slack),
    (b"xoxr-", Kind::Slack),
    (b"xoxs-", Kind::Slack),
    (b"sk_live_", Kind::Stripe),
    (b"rk_live_", Kind::Stripe),
    (b"_authToken=", Kind::Npm),
    (b"client-key-data:", Kind::Kubernetes),
];

/// The kinds of secret the content scan knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    PrivateKey,
    AzureKey,
    Aws,
    GitHub,
    Slack,
    Stripe,
    Npm,
    Kubernetes,
}

impl Kind {
    fn reason(self) -> &'static str {
        match self {
            Kind::PrivateKey => "contains a private key",
            Kind::AzureKey => "contains an Azure storage account key (AccountKey=)",
            Kind::Aws => "contains an AWS access key id",
            Kind::GitHub => "contains a GitHub token",
            Kind::Slack => "contains a Slack token",
            Kind::Stripe => "contains a Stripe live key",
            Kind::Npm => "contains an npm auth token (_authToken=)",
            Kind::Kubernetes => "contains a Kubernetes client key (client-key-data)",
        }
    }
}

/// Whether what follows a needle (`rest`, the needle at a word start or
/// not) has the secret's shape.
fn shape_holds(kind: Kind, rest: &[u8], word_start: bool) -> bool {
    let run = |max: usize, ok: fn(&u8) -> bool| rest.iter().take(max).take_while(|c| ok(c)).count();
    match kind {
        Kind::PrivateKey | Kind::AzureKey => true,
        Kind::Aws => word_start && run(17, |c| c.is_ascii_uppercase() || c.is_ascii_digit()) == 16,
        Kind::GitHub => word_start && run(20, |c| c.is_ascii_alphanumeric() || *c == b'_') >= 20,
        Kind::Slack => word_start && run(10, |c| c.is_ascii_alphanumeric() || *c == b'-') >= 10,
        Kind::Stripe => word_start && run(20, u8::is_ascii_alphanumeric) >= 20,
        // A value, not an empty assignment or a variable reference.
        Kind::Npm => rest.first().is_some_and(|c| c.is_ascii_alphanumeric()),
        Kind::Kubernetes => {
            let value = rest.iter().skip_while(|c| **c == b' ');
            value.take(20).filter(|c| c.is_ascii_alphanumeric()).count() >= 20
        }
    }
}

/// One searcher for every needle. Leftmost-first matching lets
/// aho-corasick use its SIMD packed searcher (Teddy), which skips over
/// binary data at memory speed; the standard, overlapping kind can only
/// prefilter on the needles' first bytes, and 'A', 'P' and 'g' turn up
/// every hundred bytes or so of random data.
fn needles() -> &'static aho_corasick::AhoCorasick {
    static AC: std::sync::OnceLock<aho_corasick::AhoCorasick> = std::sync::OnceLock::new();
    AC.get_or_init(|| {
        aho_corasick::AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostFirst)
            .build(NEEDLES.iter().map(|(needle, _)| needle))
            .expect("fixed needles build")
    })
}

fn find_secret(b: &[u8]) -> Option<String> {
    let starts_word = |i: usize| i == 0 || !b[i - 1].is_ascii_alphanumeric();
    let mut from = 0;
    // A candidate whose shape does not hold is passed by one byte only,
    // so nothing starting inside it is missed; no two needles of
    // different kinds can start at the same byte.
    while let Some(m) = needles().find(aho_corasick::Input::new(b).span(from..b.len())) {
        let (i, rest) = (m.start(), &b[m.end()..]);
        from = i + 1;
        let kind = NEEDLES[m.pattern().as_usize()].1;
        if shape_holds(kind, rest, starts_word(i)) {
            return Some(kind.reason().into());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(rel: &str) -> &'static str {
        match Filter::default().by_name(rel) {
            Verdict::Send => "send",
            Verdict::Blocked(_) => "blocked",
            Verdict::Skipped(_) => "skipped",
        }
    }

    #[test]
    fn the_original_tools_lists_hold() {
        for rel in [
            ".ssh/id_rsa",
            ".ssh/id_ed25519",
            "work/.ssh/id_ecdsa",
            ".ssh/deploy_id_rsa",
            ".ssh/host_key",
            ".ssh/x.pem",
            ".aws/credentials",
            ".aws/config",
            ".config/gcloud/legacy_credentials/me/adc.json",
            ".config/gcloud/credentials.db",
            ".config/gcloud/access_tokens.db",
            ".azure/service_principal_entries.json",
            "tls/server.key",
            "cert.pem",
            "store.p12",
            "store.pfx",
            "credentials",
            "credentials.json",
            "my-credentials-backup.txt",
            ".env",
            "app/.env.production",
        ] {
            assert_eq!(verdict(rel), "blocked", "{rel}");
        }
        for rel in [
            "data/app.db",
            "x.sqlite3",
            ".git/config",
            "src/__pycache__/m.cpython-311.pyc",
            "m.pyc",
            "web/node_modules/left-pad/index.js",
            ".venv/bin/python",
            "venv/lib/x.py",
            ".cargo/registry/cache/x.crate",
            ".cargo/git/db/x",
            ".rustup/toolchains/stable/bin/rustc",
            ".npm/_cacache/x",
            ".cache/pip/x",
            ".mozilla/firefox/profile/cookies.txt",
        ] {
            assert_eq!(verdict(rel), "skipped", "{rel}");
        }
        for rel in [
            ".ssh/config",
            ".ssh/known_hosts",
            ".ssh/id_ed25519.pub",
            ".env.example",
            ".env.template",
            "app/.env.sample",
            ".bashrc",
            ".config/nvim/init.lua",
            ".cargo/config.toml",
            "src/main.rs",
        ] {
            assert_eq!(verdict(rel), "send", "{rel}");
        }
    }

    #[test]
    fn other_tools_credential_files_are_blocked_and_ordinary_dotfiles_pass() {
        for rel in [
            "keys/server.ppk",
            ".kube/config",
            ".docker/config.json",
            ".netrc",
            ".pypirc",
            ".git-credentials",
            ".azure/msal_token_cache.json",
            ".azure/msal_token_cache.bin",
            ".azure/accessTokens.json",
            ".config/gh/hosts.yml",
        ] {
            assert_eq!(verdict(rel), "blocked", "{rel}");
        }
        for rel in [
            ".bashrc",
            ".gitconfig",
            ".tmux.conf",
            ".vimrc",
            ".npmrc",
            ".kube/cache/discovery.json",
            ".config/gh/config.yml",
        ] {
            assert_eq!(verdict(rel), "send", "{rel}");
        }
        let scan = |text: &[u8]| {
            let mut s = ContentScan::default();
            s.feed(text);
            s.found().map(String::from)
        };
        let cases: [(&[u8], Option<&str>); 12] = [
            (
                b"PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n",
                Some("contains a private key"),
            ),
            (
                b"slack = \"xoxb-1234567890-abcdefghij\"",
                Some("contains a Slack token"),
            ),
            (b"xoxp-short", None),
            (
                b"STRIPE=sk_live_51Habcdefghijklmnopqrstuv",
                Some("contains a Stripe live key"),
            ),
            (b"sk_test_51Habcdefghijklmnopqrstuv", None),
            (
                b"//registry.npmjs.org/:_authToken=npm_abcdef0123456789",
                Some("contains an npm auth token (_authToken=)"),
            ),
            (b"//registry.npmjs.org/:_authToken=${NPM_TOKEN}", None),
            (
                b"    client-key-data: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVk=",
                Some("contains a Kubernetes client key (client-key-data)"),
            ),
            (b"client-key-data: \n", None),
            (
                b"{\"type\": \"service_account\", \"private_key\": \"-----BEGIN PRIVATE KEY-----\\nMIIE",
                Some("contains a private key"),
            ),
            (
                b"[user]\n\tname = Dev\n\temail = dev@example.com\n",
                None,
            ),
            (b"set -g mouse on\nsyntax on\n", None),
        ];
        for (text, want) in cases {
            assert_eq!(
                scan(text).as_deref(),
                want,
                "{}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn force_sends_noise_but_never_secrets_and_excludes_add_patterns() {
        let forced = Filter {
            force: true,
            ..Filter::default()
        };
        assert_eq!(forced.by_name("node_modules/x.js"), Verdict::Send);
        assert!(matches!(forced.by_name(".ssh/id_rsa"), Verdict::Blocked(_)));
        let f = Filter::default().with_excludes("# build output\ntarget/**\n\n/*.log\n");
        assert!(matches!(
            f.by_name("proj/target/debug/x"),
            Verdict::Skipped(_)
        ));
        assert!(matches!(f.by_name("a.log"), Verdict::Skipped(_)));
        assert_eq!(f.by_name("src/target.rs"), Verdict::Send);
    }

    #[test]
    fn secrets_are_found_in_content_even_across_chunks() {
        let key = b"junk\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n";
        for split in 1..key.len() {
            let mut scan = ContentScan::default();
            scan.feed(&key[..split]);
            scan.feed(&key[split..]);
            assert_eq!(
                scan.found(),
                Some("contains a private key"),
                "split at {split}"
            );
        }
        let cases: [(&[u8], Option<&str>); 8] = [
            (
                b"aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n",
                Some("contains an AWS access key id"),
            ),
            (
                b"DefaultEndpointsProtocol=https;AccountName=x;AccountKey=abc==",
                Some("contains an Azure storage account key (AccountKey=)"),
            ),
            (
                b"token: ghp_0123456789abcdefghijABCDEFGHIJ012345",
                Some("contains a GitHub token"),
            ),
            (
                b"github_pat_11ABCDEFG0123456789_abcdefghijklmnop",
                Some("contains a GitHub token"),
            ),
            (b"the AKIA prefix alone, or AKIAshort", None),
            // The search goes on past a candidate whose shape fails.
            (
                b"AKIAshort, then ghp_0123456789abcdefghijABCDEFGHIJ",
                Some("contains a GitHub token"),
            ),
            (b"fn main() { println!(\"ghp_ is a prefix\"); }", None),
            (b"-----BEGIN PUBLIC KEY-----", None),
        ];
        for (text, want) in cases {
            let mut scan = ContentScan::default();
            scan.feed(text);
            assert_eq!(scan.found(), want, "{}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn globs() {
        assert!(matches(".config/gcloud/**/*.json", ".config/gcloud/a.json"));
        assert!(matches(
            ".config/gcloud/**/*.json",
            "h/.config/gcloud/a/b/c.json"
        ));
        assert!(!matches(
            ".config/gcloud/**/*.json",
            ".config/gcloudx/a.json"
        ));
        assert!(matches(".git/**", ".git"));
        assert!(wildcard("*id_rsa", "deploy_id_rsa"));
        assert!(!wildcard("id_*", "xid_rsa"));
    }
}
