//! `CommandSet`: which commands of the table a user (or one of its
//! selectors) may run — one bit per command plus first-argument exceptions —
//! how category rules change it, and how Redis 7.0 describes it
//! (`-@all +@hash -hget +set`).

use std::collections::{BTreeMap, BTreeSet};

use super::category::{self, CATEGORIES, Subcommand};
use crate::resp::command::table;

/// Which commands of the table a user may run: one bit per command, plus
/// first-argument exceptions (`+config|get`, `-client|kill`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandSet {
    bits: Vec<u64>,
    /// Set by `+@all`: the user may also run commands added later (and the
    /// description starts with `+@all` rather than `-@all`).
    pub(super) all_future: bool,
    /// First arguments allowed for commands whose bit is clear.
    pub(super) allowed_first: BTreeMap<usize, BTreeSet<Vec<u8>>>,
    /// First arguments denied for commands whose bit is set.
    pub(super) denied_first: BTreeMap<usize, BTreeSet<Vec<u8>>>,
}

impl CommandSet {
    pub(super) fn sized(all: bool) -> CommandSet {
        let n = table().all().len();
        let mut bits = vec![0u64; n.div_ceil(64)];
        if all {
            for i in 0..n {
                bits[i / 64] |= 1 << (i % 64);
            }
        }
        CommandSet {
            bits,
            all_future: all,
            allowed_first: BTreeMap::new(),
            denied_first: BTreeMap::new(),
        }
    }

    /// True if the command at `index` is allowed whatever its arguments.
    pub fn get(&self, index: usize) -> bool {
        self.bits
            .get(index / 64)
            .is_some_and(|w| w & (1 << (index % 64)) != 0)
    }

    /// Allows or forbids the command at `index`, dropping its first-argument
    /// exceptions (as Redis does).
    pub(super) fn put(&mut self, index: usize, allowed: bool) {
        if let Some(w) = self.bits.get_mut(index / 64) {
            if allowed {
                *w |= 1 << (index % 64);
            } else {
                *w &= !(1 << (index % 64));
            }
        }
        self.allowed_first.remove(&index);
        self.denied_first.remove(&index);
    }

    /// `+@cat` / `-@cat`: every command of category `index`, and the
    /// subcommands filed under it; subcommands filed elsewhere keep what
    /// they were allowed before (so `+@all -@admin` still allows ACL WHOAMI).
    pub(super) fn apply_category(&mut self, index: usize, allow: bool) {
        let subs: Vec<(Subcommand, bool)> = category::subcommands()
            .map(|s| (s, self.allows(s.command, Some(s.name.as_bytes()))))
            .collect();
        for i in category::members(index) {
            self.put(i, allow);
        }
        for (s, before) in subs {
            let want = if s.categories.contains(index) {
                allow
            } else {
                before
            };
            self.set_first(s.command, s.name.as_bytes(), want);
        }
    }

    /// Allows or forbids the command at `index` with first argument `first`,
    /// leaving its other arguments as they are.
    pub(super) fn set_first(&mut self, index: usize, first: &[u8], allow: bool) {
        let first = first.to_ascii_lowercase();
        for map in [&mut self.allowed_first, &mut self.denied_first] {
            if let Some(set) = map.get_mut(&index) {
                set.remove(&first);
                if set.is_empty() {
                    map.remove(&index);
                }
            }
        }
        // An exception is needed only where the answer differs from the
        // command's own bit.
        if allow != self.get(index) {
            let map = if allow {
                &mut self.allowed_first
            } else {
                &mut self.denied_first
            };
            map.entry(index).or_default().insert(first);
        }
    }

    /// `+@all` (`true`) or `-@all`.
    pub(super) fn reset_to(&mut self, all: bool) {
        *self = CommandSet::sized(all);
    }

    /// True if the command at `index` may run with first argument `first`.
    pub fn allows(&self, index: usize, first: Option<&[u8]>) -> bool {
        let bit = self.get(index);
        let exceptions = if bit {
            self.denied_first.get(&index)
        } else {
            self.allowed_first.get(&index)
        };
        match (exceptions, first) {
            // Lowercased only when the command has exceptions: the first
            // argument is usually a key, and this runs for every command.
            (Some(set), Some(f)) => bit != set.contains(&f.to_ascii_lowercase()),
            _ => bit,
        }
    }

    /// True if every command is allowed with any arguments.
    pub fn everything(&self) -> bool {
        let n = table().all().len();
        self.denied_first.is_empty() && (0..n).all(|i| self.get(i))
    }

    /// The shortest-ish rules that rebuild this set, computed as Redis 7.0
    /// does: start from `+@all` or `-@all`, add (or remove) each category
    /// most of whose commands are allowed (or not), then fix single
    /// commands, then first-argument exceptions.
    pub fn describe(&self) -> String {
        let specs = table().all();
        let mut fake = CommandSet::sized(self.all_future);
        let mut rules = vec![if self.all_future { "+@all" } else { "-@all" }.to_string()];
        let allow = !self.all_future;
        for (ci, name) in CATEGORIES.iter().enumerate() {
            // A category rule is worth writing when it puts right more of its
            // members (as rebuilt so far) than it puts wrong: so `+@all -@admin`
            // does not grow a `-@dangerous` and exceptions for the dangerous
            // commands that are not administrative.
            let (mut fixes, mut breaks) = (0usize, 0usize);
            for i in category::members(ci) {
                let (want, now) = (self.get(i), fake.get(i));
                if want != now && want == allow {
                    fixes += 1;
                } else if want == now && want != allow {
                    breaks += 1;
                }
            }
            if fixes > breaks {
                rules.push(format!("{}@{name}", if allow { '+' } else { '-' }));
                fake.apply_category(ci, allow);
            }
        }
        for (i, spec) in specs.iter().enumerate() {
            if self.get(i) != fake.get(i) {
                let sign = if self.get(i) { '+' } else { '-' };
                rules.push(format!("{sign}{}", spec.name));
                fake.put(i, self.get(i));
            }
        }
        // First-argument rules where this set and the rebuilt one still differ.
        let mut firsts: BTreeSet<(usize, &[u8])> = BTreeSet::new();
        for map in [
            &self.allowed_first,
            &self.denied_first,
            &fake.allowed_first,
            &fake.denied_first,
        ] {
            for (i, set) in map {
                firsts.extend(set.iter().map(|f| (*i, f.as_slice())));
            }
        }
        for (i, f) in firsts {
            let allowed = self.allows(i, Some(f));
            if allowed != fake.allows(i, Some(f)) {
                let sign = if allowed { '+' } else { '-' };
                rules.push(format!(
                    "{sign}{}|{}",
                    specs[i].name,
                    String::from_utf8_lossy(f)
                ));
            }
        }
        rules.join(" ")
    }
}
