//! What a paged search (RFC 2696) keeps between pages, and the server-wide budget of
//! candidates all of them hold together: a connection keeps a few paged searches, each
//! a bounded list of keys, and many connections together still cannot hold more than
//! the budget.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::dit::Key;

/// An open paged search: what is left to examine, under a cookie.
#[derive(Debug)]
pub struct Paging {
    /// The cookie the client sends back.
    pub cookie: Vec<u8>,
    /// A digest of the search it belongs to (a cookie is refused with another search).
    pub fingerprint: Vec<u8>,
    /// The candidates left, each visible to the reader when it was queued.
    pub keys: VecDeque<Key>,
    /// Entries returned so far (against the client's size limit).
    pub returned: usize,
    /// The part of the budget the keys take.
    pub share: Share,
}

/// The candidates all paged searches may keep, and how many they keep now.
#[derive(Debug)]
pub struct Budget {
    held: Arc<AtomicUsize>,
    max: usize,
}

impl Budget {
    /// A budget of `max` candidates.
    pub fn new(max: usize) -> Budget {
        Budget {
            held: Arc::new(AtomicUsize::new(0)),
            max,
        }
    }

    /// Candidates kept now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// A share of `n` candidates; None when the budget cannot hold them now.
    pub fn reserve(&self, n: usize) -> Option<Share> {
        self.held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                held.checked_add(n).filter(|total| *total <= self.max)
            })
            .ok()?;
        Some(Share {
            held: Arc::clone(&self.held),
            n,
        })
    }
}

/// Candidates taken from the budget, given back when dropped.
#[derive(Debug)]
pub struct Share {
    held: Arc<AtomicUsize>,
    n: usize,
}

impl Share {
    /// Gives back what exceeds `n` (a page consumed some of the keys).
    pub fn shrink_to(&mut self, n: usize) {
        if n < self.n {
            self.held.fetch_sub(self.n - n, Ordering::AcqRel);
            self.n = n;
        }
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        self.held.fetch_sub(self.n, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_refuses_past_its_bound_and_gets_shares_back() {
        let budget = Budget::new(10);
        let mut a = budget.reserve(6).unwrap();
        assert!(budget.reserve(5).is_none(), "6 + 5 > 10");
        let b = budget.reserve(4).unwrap();
        assert_eq!(budget.held(), 10);
        a.shrink_to(2);
        assert_eq!(budget.held(), 6);
        a.shrink_to(5);
        assert_eq!(budget.held(), 6, "a share never grows");
        drop(b);
        drop(a);
        assert_eq!(budget.held(), 0);
        assert!(budget.reserve(usize::MAX).is_none());
    }
}
