//! Protocol version negotiation: each side announces the range it speaks and
//! both use the highest version in the overlap, or refuse cleanly.

use thiserror::Error;

/// Oldest protocol version this build speaks.
pub const MIN_VERSION: u16 = 1;
/// Newest protocol version this build speaks.
pub const MAX_VERSION: u16 = 1;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error(
    "no common protocol version: we speak {our_min}..={our_max}, the peer speaks \
     {their_min}..={their_max}; upgrade the older side"
)]
pub struct NoOverlap {
    pub our_min: u16,
    pub our_max: u16,
    pub their_min: u16,
    pub their_max: u16,
}

/// The highest version both ranges contain.
pub fn negotiate(ours: (u16, u16), theirs: (u16, u16)) -> Result<u16, NoOverlap> {
    let low = ours.0.max(theirs.0);
    let high = ours.1.min(theirs.1);
    if low <= high && ours.0 <= ours.1 && theirs.0 <= theirs.1 {
        Ok(high)
    } else {
        Err(NoOverlap {
            our_min: ours.0,
            our_max: ours.1,
            their_min: theirs.0,
            their_max: theirs.1,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_highest_shared() {
        assert_eq!(negotiate((1, 3), (2, 5)), Ok(3));
        assert_eq!(negotiate((1, 1), (1, 1)), Ok(1));
    }

    #[test]
    fn refuses_disjoint_or_inverted_ranges() {
        let e = negotiate((1, 1), (2, 4)).unwrap_err();
        assert!(e.to_string().contains("1..=1"), "{e}");
        assert!(negotiate((1, 3), (3, 2)).is_err());
    }
}
