//! The VM user's environment variables that azlin manages (`azlin env`):
//! what the controller asks of the agent ([`EnvRequest`]: set, unset or
//! clear, all at once), the checks both sides make ([`check_name`],
//! [`check_value`]), and the file the agent keeps them in
//! (`~/.config/azlin/env`): POSIX `sh`, one `export NAME='value'` each,
//! written by [`render`] and read back by [`parse`], which reads only
//! that shape (so a value's quotes, `$`, backslashes and newlines come
//! back as they went, and nothing in the file is ever run to read it).
//!
//! Not here: writing the file, or a shell sourcing it (the agent's
//! `env_file`).

use serde::{Deserialize, Serialize};

/// Most variables one VM keeps.
pub const MAX_VARS: usize = 1000;
/// Longest value, in bytes.
pub const MAX_VALUE: usize = 64 * 1024;
/// Longest name.
pub const MAX_NAME: usize = 255;

/// Change the managed variables (`clear` first, then `unset`, then
/// `set`), in one write; nothing to change reads them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvRequest {
    pub set: Vec<(String, String)>,
    pub unset: Vec<String>,
    pub clear: bool,
}

impl EnvRequest {
    pub fn changes_nothing(&self) -> bool {
        self.set.is_empty() && self.unset.is_empty() && !self.clear
    }
}

/// Names the VM's own login and shell set, which azlin will not shadow.
const RESERVED: [&str; 8] = [
    "HOME", "USER", "LOGNAME", "SHELL", "PATH", "PWD", "OLDPWD", "SHLVL",
];

/// A POSIX name (`[A-Za-z_][A-Za-z0-9_]*`), not one the login sets.
pub fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "{:?} is not a variable name: letters, digits and _, not starting with a digit",
            name.chars().take(40).collect::<String>()
        ));
    }
    if name.len() > MAX_NAME {
        return Err(format!("a variable name is at most {MAX_NAME} characters"));
    }
    if RESERVED.contains(&name) {
        return Err(format!(
            "{name} is set by the VM's login; azlin does not manage it"
        ));
    }
    Ok(())
}

/// Any text but NUL (which no environment can hold), at most
/// [`MAX_VALUE`] bytes.
pub fn check_value(name: &str, value: &str) -> Result<(), String> {
    if value.contains('\0') {
        return Err(format!("the value of {name} has a NUL byte"));
    }
    if value.len() > MAX_VALUE {
        return Err(format!("the value of {name} is over {MAX_VALUE} bytes"));
    }
    Ok(())
}

/// Check a whole request.
pub fn check(req: &EnvRequest) -> Result<(), String> {
    for (name, value) in &req.set {
        check_name(name)?;
        check_value(name, value)?;
    }
    for name in &req.unset {
        check_name(name)?;
    }
    if req.set.len() > MAX_VARS {
        return Err(format!("at most {MAX_VARS} variables"));
    }
    Ok(())
}

/// The first line of the file, which [`parse`] requires.
pub const HEADER: &str = "# managed by azlin (`azlin env`); edits here are replaced";

/// The file for `vars` (names checked): single quotes around each value,
/// a `'` inside written as `'\''`.
pub fn render(vars: &[(String, String)]) -> String {
    let mut out = format!("{HEADER}\n");
    for (name, value) in vars {
        out.push_str("export ");
        out.push_str(name);
        out.push_str("='");
        out.push_str(&value.replace('\'', "'\\''"));
        out.push_str("'\n");
    }
    out
}

/// The variables of a file [`render`] wrote; anything else is an error
/// (the file is azlin's; nothing in it is run to read it).
pub fn parse(text: &str) -> Result<Vec<(String, String)>, String> {
    let rest = text
        .strip_prefix(HEADER)
        .and_then(|r| r.strip_prefix('\n'))
        .ok_or("the file does not start with azlin's header")?;
    let mut vars: Vec<(String, String)> = Vec::new();
    let mut s = rest;
    while !s.is_empty() {
        let line = s.strip_prefix("export ").ok_or_else(|| {
            format!(
                "unexpected text: {:?}",
                s.chars().take(40).collect::<String>()
            )
        })?;
        let eq = line.find("='").ok_or("an export without ='")?;
        let name = &line[..eq];
        check_name(name)?;
        let mut value = String::new();
        let mut at = &line[eq + 2..];
        loop {
            let end = at
                .find('\'')
                .ok_or_else(|| format!("the value of {name} is not closed"))?;
            value.push_str(&at[..end]);
            at = &at[end + 1..];
            if let Some(next) = at.strip_prefix("\\''") {
                value.push('\'');
                at = next;
                continue;
            }
            break;
        }
        s = at
            .strip_prefix('\n')
            .ok_or_else(|| format!("text after the value of {name}"))?;
        vars.retain(|(n, _)| n != name);
        vars.push((name.to_string(), value));
    }
    Ok(vars)
}

/// `vars` after `req` (`clear`, then `unset`, then `set`; a name set
/// again keeps its place).
pub fn apply(mut vars: Vec<(String, String)>, req: &EnvRequest) -> Vec<(String, String)> {
    if req.clear {
        vars.clear();
    }
    vars.retain(|(n, _)| !req.unset.contains(n));
    for (name, value) in &req.set {
        match vars.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value.clone(),
            None => vars.push((name.clone(), value.clone())),
        }
    }
    vars
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn hard_values_survive_a_round_trip() {
        let vars = v(&[
            ("A", "it's"),
            ("B", "$HOME `id` $(touch /tmp/x) \\n \\\\"),
            ("C", "two\nlines\n"),
            ("D", ""),
            ("E", "'''"),
            ("F", "ünïcødé \t tab"),
        ]);
        let text = render(&vars);
        assert_eq!(parse(&text).unwrap(), vars);
    }

    #[test]
    fn the_file_is_what_sh_reads_the_same_way() {
        // sh itself reads the rendered file to the same values.
        let vars = v(&[("Q", "a'b\"c$d`e\\f\ng")]);
        let text = format!("{}printf '%s' \"$Q\"", render(&vars));
        let out = std::process::Command::new("sh")
            .args(["-c", &text])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), "a'b\"c$d`e\\f\ng");
    }

    #[test]
    fn names_are_posix_and_not_the_logins() {
        for good in ["A", "_x", "API_KEY2"] {
            check_name(good).unwrap();
        }
        for bad in ["", "1A", "A-B", "A B", "A=B", "ä", "PATH", "HOME"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(check_value("A", "x\0y").is_err());
    }

    #[test]
    fn anything_but_azlins_own_shape_is_refused() {
        assert!(parse("export A='x'\n").is_err(), "no header");
        let h = format!("{HEADER}\n");
        for bad in [
            "export A=x\n",
            "export A='x\n",
            "export A='x'; rm -rf /\n",
            "A='x'\n",
            "export 1A='x'\n",
        ] {
            assert!(parse(&format!("{h}{bad}")).is_err(), "{bad:?}");
        }
        assert_eq!(parse(&h).unwrap(), vec![]);
    }

    #[test]
    fn changes_apply_clear_unset_then_set() {
        let vars = v(&[("A", "1"), ("B", "2")]);
        let req = EnvRequest {
            set: v(&[("B", "3"), ("C", "4")]),
            unset: vec!["A".into()],
            clear: false,
        };
        assert_eq!(apply(vars.clone(), &req), v(&[("B", "3"), ("C", "4")]));
        let req = EnvRequest {
            clear: true,
            set: v(&[("Z", "9")]),
            ..Default::default()
        };
        assert_eq!(apply(vars, &req), v(&[("Z", "9")]));
    }
}
