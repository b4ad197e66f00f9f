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

/// Edit distance over characters, where swapping two neighbours counts as
/// one edit (optimal string alignment): `stauts` is one edit from
/// `status`, as a typist would count it.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Rows i-2, i-1 and i of the table.
    let mut older: Vec<usize> = Vec::new();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j - 1] + cost).min(prev[j] + 1).min(cur[j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(older[j - 2] + 1);
            }
            cur.push(d);
        }
        older = std::mem::replace(&mut prev, cur);
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

    #[test]
    fn a_swap_of_neighbours_is_one_edit() {
        assert_eq!(distance("stauts", "status"), 1);
        assert_eq!(distance("abc", "abc"), 0);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("ca", "abc"), 3);
    }
}
