//! One side of a copy: `VM:path` (a VM or session name, then a path on the
//! VM: absolute, `~/…`, or relative to the VM user's home) or a local
//! path. As scp reads it: a colon before any `/` makes it remote, so
//! `./a:b` is local.

use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Local(PathBuf),
    Vm { vm: String, path: String },
}

impl Endpoint {
    pub fn parse(arg: &str) -> Self {
        match arg.split_once(':') {
            Some((vm, path)) if !vm.is_empty() && !vm.contains('/') => Endpoint::Vm {
                vm: vm.to_string(),
                path: remote_path(path),
            },
            _ => Endpoint::Local(PathBuf::from(arg)),
        }
    }
}

/// The path as the agent wants it: absolute or `~`-based.
fn remote_path(path: &str) -> String {
    if path.is_empty() || path == "~" {
        "~".into()
    } else if path.starts_with('/') || path.starts_with("~/") {
        path.into()
    } else {
        format!("~/{path}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_and_local_as_scp_reads_them() {
        let vm = |vm: &str, path: &str| Endpoint::Vm {
            vm: vm.into(),
            path: path.into(),
        };
        assert_eq!(Endpoint::parse("dev:"), vm("dev", "~"));
        assert_eq!(Endpoint::parse("dev:notes.txt"), vm("dev", "~/notes.txt"));
        assert_eq!(Endpoint::parse("dev:~/a/"), vm("dev", "~/a/"));
        assert_eq!(Endpoint::parse("main:/tmp/x"), vm("main", "/tmp/x"));
        assert_eq!(Endpoint::parse("./a:b"), Endpoint::Local("./a:b".into()));
        assert_eq!(
            Endpoint::parse("/abs/path"),
            Endpoint::Local("/abs/path".into())
        );
        assert_eq!(Endpoint::parse(":x"), Endpoint::Local(":x".into()));
    }
}
