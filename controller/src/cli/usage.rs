//! Mistakes on the command line itself, which exit 2 as usage errors do:
//! parsing with a "did you mean" for a mistyped subcommand ([`parse`]), and
//! [`Usage`] for what only shows once the arguments are read (a command
//! that chose no VMs). Not here: errors the daemon reports (their exit
//! status comes with them).

use clap::{CommandFactory, Parser, error::ErrorKind};

use super::args::Cli;

/// The command line asks for something that cannot be done as given.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

/// The exit status of a usage error.
pub const EXIT: u8 = 2;

/// Parse the command line; on a mistake, say so (with the subcommand the
/// user probably meant) and exit 2. `azlin -- CMD` is untouched: only a
/// first word that is not a subcommand and is close to one gets a tip.
pub fn parse() -> Cli {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            let tip = match e.kind() {
                ErrorKind::UnknownArgument | ErrorKind::InvalidSubcommand => {
                    first_word(&args).and_then(|w| meant(&w))
                }
                _ => None,
            };
            let _ = e.print();
            if let Some(name) = tip {
                eprintln!("\n  tip: did you mean `azlin {name}`?");
            }
            std::process::exit(e.exit_code());
        }
    }
}

/// The first argument that is not an option, before any `--`.
fn first_word(args: &[std::ffi::OsString]) -> Option<String> {
    args.iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .take_while(|a| a != "--")
        .find(|a| !a.starts_with('-'))
}

/// The subcommand closest to `word`, if one is close.
pub fn meant(word: &str) -> Option<String> {
    let cmd = Cli::command();
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    if names.iter().any(|n| n == word) {
        return None;
    }
    crate::names::closest(word, &names).into_iter().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_misses_of_subcommands_are_suggested() {
        assert_eq!(meant("lst").as_deref(), Some("list"));
        assert_eq!(meant("stauts").as_deref(), Some("status"));
        assert_eq!(meant("kil").as_deref(), Some("kill"));
        assert_eq!(meant("list"), None);
        assert_eq!(meant("completely-different-words"), None);
    }

    #[test]
    fn the_first_word_is_the_first_non_option_before_dashes() {
        let args = |v: &[&str]| v.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        assert_eq!(
            first_word(&args(&["azlin", "--json", "lst"])).as_deref(),
            Some("lst")
        );
        assert_eq!(first_word(&args(&["azlin", "--", "lst"])), None);
    }
}
