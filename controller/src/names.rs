//! Suggesting the names a user probably meant, for "no VM named …" errors.

/// Up to three names within a small edit distance of `wanted`, closest first.
pub fn closest(wanted: &str, names: &[String]) -> Vec<String> {
    let limit = (wanted.len() / 3).max(2);
    let mut scored: Vec<(usize, &String)> = names
        .iter()
        .map(|n| (distance(wanted, n), n))
        .filter(|(d, n)| *d <= limit || n.starts_with(wanted) || wanted.starts_with(n.as_str()))
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, n)| n.clone()).collect()
}

/// Levenshtein distance over characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_names_only() {
        let names: Vec<String> = ["dev-1", "dev-2", "build-box"].map(String::from).to_vec();
        assert_eq!(closest("dev-3", &names), vec!["dev-1", "dev-2"]);
        assert_eq!(closest("buildbox", &names), vec!["build-box"]);
        assert!(closest("zzzzzzzz", &names).is_empty());
    }
}
