//! ACL rules (`on`, `>secret`, `+@read`, `~app:*`, `&news`, …): parsing one
//! rule and applying it to a [`User`], left to right, with Redis 7's error
//! texts.
//!
//! Rules change only the user value they are given; publishing it is the
//! registry's job.

use super::category;
use super::password::PasswordHash;
use super::selector::{KeyPattern, Selector};
use super::user::User;
use crate::resp::command::table;

/// Why a rule was refused; the text is Redis's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// Not a rule at all.
    #[error("Syntax error")]
    Syntax,
    /// `+foo` / `+@foo` names nothing we know.
    #[error("Unknown command or category name in ACL")]
    UnknownCommand,
    /// `#hash` is not 64 lowercase hex digits.
    #[error(
        "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"
    )]
    BadHash,
    /// `<pass` or `!hash` names a password the user does not have.
    #[error("The password you are trying to remove from the user does not exist")]
    NoSuchPassword,
    /// A key pattern after `allkeys`.
    #[error(
        "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns"
    )]
    KeysAfterAll,
    /// A channel pattern after `allchannels`.
    #[error(
        "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels"
    )]
    ChannelsAfterAll,
    /// `-cmd|sub` or `+cmd|sub` with an empty part.
    #[error("Allowing first-arg of a subcommand is not supported")]
    BadFirstArg,
    /// `(` without its `)`.
    #[error("Unmatched parenthesis in acl selector")]
    UnmatchedParenthesis,
}

/// Applies one rule to `user`: user-wide rules (`on`, passwords, `reset`,
/// `(…)` selectors, `clearselectors`) here, the rest to its root selector.
pub fn apply(user: &mut User, rule: &[u8]) -> Result<(), RuleError> {
    let word = |w: &str| rule.eq_ignore_ascii_case(w.as_bytes());
    if word("on") {
        user.enabled = true;
    } else if word("off") {
        user.enabled = false;
    } else if word("nopass") {
        user.nopass = true;
        user.passwords.clear();
    } else if word("resetpass") {
        user.nopass = false;
        user.passwords.clear();
    } else if word("clearselectors") {
        user.selectors.clear();
    } else if word("reset") {
        for r in [
            "resetpass",
            "resetkeys",
            "resetchannels",
            "off",
            "clearselectors",
            "-@all",
        ] {
            apply(user, r.as_bytes())?;
        }
    } else if word("sanitize-payload") || word("skip-sanitize-payload") {
        // Accepted for compatibility: we restore no payloads (no RESTORE).
    } else if let Some(inner) = rule.strip_prefix(b"(") {
        let inner = inner
            .strip_suffix(b")")
            .ok_or(RuleError::UnmatchedParenthesis)?;
        let mut selector = Selector::none();
        for r in inner
            .split(|c| c.is_ascii_whitespace())
            .filter(|r| !r.is_empty())
        {
            apply_to_selector(&mut selector, r)?;
        }
        user.selectors.push(selector);
    } else if let Some((&first, rest)) = rule.split_first()
        && matches!(first, b'>' | b'#' | b'<' | b'!')
    {
        password_rule(user, first, rest)?;
    } else {
        apply_to_selector(&mut user.root, rule)?;
    }
    Ok(())
}

fn password_rule(user: &mut User, op: u8, rest: &[u8]) -> Result<(), RuleError> {
    let hash = if matches!(op, b'>' | b'<') {
        PasswordHash::of(rest)
    } else {
        PasswordHash::from_hex(rest).ok_or(RuleError::BadHash)?
    };
    if matches!(op, b'>' | b'#') {
        if !user.passwords.contains(&hash) {
            user.passwords.push(hash);
        }
        user.nopass = false;
        Ok(())
    } else {
        remove_password(user, hash)
    }
}

/// Applies a rule about commands, keys or channels to one selector.
fn apply_to_selector(sel: &mut Selector, rule: &[u8]) -> Result<(), RuleError> {
    let word = |w: &str| rule.eq_ignore_ascii_case(w.as_bytes());
    if word("allkeys") {
        allow_all_keys(sel);
    } else if word("resetkeys") {
        sel.all_keys = false;
        sel.keys.clear();
    } else if word("allchannels") {
        sel.all_channels = true;
        sel.channels.clear();
    } else if word("resetchannels") {
        sel.all_channels = false;
        sel.channels.clear();
    } else if word("allcommands") {
        sel.commands.reset_to(true);
    } else if word("nocommands") {
        sel.commands.reset_to(false);
    } else {
        let Some((&first, rest)) = rule.split_first() else {
            return Err(RuleError::Syntax);
        };
        match first {
            b'~' => add_key_pattern(sel, rest, true, true)?,
            b'%' => {
                let Some(tilde) = rest.iter().position(|&c| c == b'~') else {
                    return Err(RuleError::Syntax);
                };
                let (mut read, mut write) = (false, false);
                for &c in &rest[..tilde] {
                    match c.to_ascii_uppercase() {
                        b'R' => read = true,
                        b'W' => write = true,
                        _ => return Err(RuleError::Syntax),
                    }
                }
                if !read && !write {
                    return Err(RuleError::Syntax);
                }
                add_key_pattern(sel, &rest[tilde + 1..], read, write)?;
            }
            b'&' => {
                if sel.all_channels {
                    return Err(RuleError::ChannelsAfterAll);
                }
                if rest == b"*" {
                    sel.all_channels = true;
                    sel.channels.clear();
                } else if !sel.channels.iter().any(|c| c == rest) {
                    sel.channels.push(rest.to_vec());
                }
            }
            b'+' | b'-' => command_rule(sel, first == b'+', rest)?,
            _ => return Err(RuleError::Syntax),
        }
    }
    Ok(())
}

fn remove_password(user: &mut User, h: PasswordHash) -> Result<(), RuleError> {
    let before = user.passwords.len();
    user.passwords.retain(|p| *p != h);
    if user.passwords.len() == before {
        return Err(RuleError::NoSuchPassword);
    }
    Ok(())
}

fn allow_all_keys(sel: &mut Selector) {
    sel.all_keys = true;
    sel.keys.clear();
}

fn add_key_pattern(
    sel: &mut Selector,
    pattern: &[u8],
    read: bool,
    write: bool,
) -> Result<(), RuleError> {
    if sel.all_keys {
        return Err(RuleError::KeysAfterAll);
    }
    if pattern == b"*" && read && write {
        allow_all_keys(sel);
        return Ok(());
    }
    // The same pattern twice grants the union of both.
    match sel.keys.iter_mut().find(|k| k.pattern == pattern) {
        Some(k) => {
            k.read |= read;
            k.write |= write;
            if pattern == b"*" && k.read && k.write {
                // `%R~* %W~*` is `~*`: say so, or the description (`~*`)
                // would rebuild a different user.
                allow_all_keys(sel);
            }
        }
        None => sel.keys.push(KeyPattern {
            pattern: pattern.to_vec(),
            read,
            write,
        }),
    }
    Ok(())
}

fn command_rule(sel: &mut Selector, allow: bool, what: &[u8]) -> Result<(), RuleError> {
    if let Some(cat) = what.strip_prefix(b"@") {
        let name = std::str::from_utf8(cat).map_err(|_| RuleError::UnknownCommand)?;
        if name.eq_ignore_ascii_case("all") {
            sel.commands.reset_to(allow);
            return Ok(());
        }
        let index = category::index(name).ok_or(RuleError::UnknownCommand)?;
        sel.commands.apply_category(index, allow);
        return Ok(());
    }
    if let Some(bar) = what.iter().position(|&c| c == b'|') {
        let (cmd, first) = (&what[..bar], &what[bar + 1..]);
        if first.is_empty() || first.contains(&b'|') {
            return Err(RuleError::BadFirstArg);
        }
        let (index, _) = table().lookup(cmd).ok_or(RuleError::UnknownCommand)?;
        sel.commands.set_first(index, first, allow);
        return Ok(());
    }
    let (index, _) = table().lookup(what).ok_or(RuleError::UnknownCommand)?;
    sel.commands.put(index, allow);
    Ok(())
}

/// Applies `rules` left to right to a copy of `user`; on the first error
/// returns it with the offending rule, leaving `user` unchanged. A selector
/// split over several arguments (`(+get` `~k*)`, as shells and clients send
/// it) is joined again first, as Redis does.
pub fn apply_all<'a>(
    user: &User,
    rules: impl IntoIterator<Item = &'a [u8]>,
) -> Result<User, (Vec<u8>, RuleError)> {
    let mut next = user.clone();
    let mut open: Option<Vec<u8>> = None;
    for rule in rules {
        let rule = match open.take() {
            Some(mut start) => {
                start.push(b' ');
                start.extend_from_slice(rule);
                start
            }
            None => rule.to_vec(),
        };
        if rule.starts_with(b"(") && !rule.ends_with(b")") {
            open = Some(rule);
            continue;
        }
        apply(&mut next, &rule).map_err(|e| (rule, e))?;
    }
    if let Some(rule) = open {
        return Err((rule, RuleError::UnmatchedParenthesis));
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn user(rules: &str) -> User {
        apply_all(&User::new("u"), rules.split_whitespace().map(str::as_bytes))
            .expect("rules apply")
    }

    fn err(rules: &str) -> RuleError {
        apply_all(&User::new("u"), rules.split_whitespace().map(str::as_bytes))
            .expect_err("rules refused")
            .1
    }

    #[test]
    fn describes_like_redis() {
        let u = user("on >p1 ~cached:* %R~r* &ch* +get -@all +set +@hash -hget");
        assert_eq!(
            u.describe(),
            "on #f64551fcd6f07823cb87971cfb91446425da18286b3ab1ef935e0cbd7a69f68a ~cached:* %R~r* resetchannels &ch* -@all +@hash -hget +set"
        );
        assert_eq!(User::default_user().describe(), "on nopass ~* &* +@all");
        assert_eq!(user("").describe(), "off resetchannels -@all");
    }

    #[test]
    fn description_round_trips() {
        for rules in [
            "on >a >b ~k* %W~w* %R~r* &c +@all -get -@dangerous +config|get",
            "off nopass allkeys allchannels -@all +@read -keys +client|id",
            "on #f64551fcd6f07823cb87971cfb91446425da18286b3ab1ef935e0cbd7a69f68a +@write +@read -@list +lpush",
            "on +@all -@admin +client|list -acl|cat -@dangerous",
        ] {
            let u = user(rules);
            let again = user(&u.describe());
            assert_eq!(u.describe(), again.describe(), "{rules}");
            assert_eq!(u.commands(), again.commands(), "{rules}");
        }
    }

    #[test]
    fn passwords_are_added_removed_and_reset() {
        let u = user("on >a >b <a");
        assert!(!u.accepts(b"a"));
        assert!(u.accepts(b"b"));
        assert!(!user(">b").accepts(b"b"), "off users never authenticate");
        assert!(user("on nopass").accepts(b"anything"));
        assert!(!user("on nopass resetpass").accepts(b"anything"));
        assert_eq!(err("<missing"), RuleError::NoSuchPassword);
        assert_eq!(err("#abc"), RuleError::BadHash);
        let h = PasswordHash::of(b"x").to_hex();
        assert!(user(&format!("on #{h}")).accepts(b"x"));
        assert!(!user(&format!("on #{h} !{h}")).accepts(b"x"));
    }

    #[test]
    fn command_rules_apply_left_to_right() {
        let index = |n: &str| table().lookup(n.as_bytes()).expect("command").0;
        let u = user("+@all -@write +set");
        assert!(u.commands().allows(index("get"), None));
        assert!(u.commands().allows(index("set"), None));
        assert!(!u.commands().allows(index("del"), None));
        let u = user("+config|get");
        assert!(u.commands().allows(index("config"), Some(b"GET")));
        assert!(!u.commands().allows(index("config"), Some(b"set")));
        let u = user("allcommands -client|kill");
        assert!(!u.commands().allows(index("client"), Some(b"kill")));
        assert!(u.commands().allows(index("client"), Some(b"id")));
        assert!(user("allcommands nocommands").describe().ends_with("-@all"));
        assert_eq!(err("+nosuch"), RuleError::UnknownCommand);
        assert_eq!(err("+@nosuch"), RuleError::UnknownCommand);
        assert_eq!(err("bogus"), RuleError::Syntax);
    }

    #[test]
    fn subcommands_follow_their_own_categories() {
        let index = |n: &str| table().lookup(n.as_bytes()).expect("command").0;
        let u = user("+@all -@admin");
        let c = u.commands();
        assert!(c.allows(index("acl"), Some(b"WHOAMI")));
        assert!(!c.allows(index("acl"), Some(b"setuser")));
        assert!(!c.allows(index("client"), Some(b"list")));
        assert!(c.allows(index("client"), Some(b"id")));
        assert_eq!(c.describe(), "+@all -@admin");
        assert!(user("+@all -@admin +@admin").commands().everything());
        // CLIENT LIST is @connection too, as in Redis.
        let u = user("-@all +@connection");
        assert!(u.commands().allows(index("client"), Some(b"list")));
        let u = user("-@all +@connection -@admin");
        assert!(!u.commands().allows(index("client"), Some(b"list")));
        assert!(u.commands().allows(index("client"), Some(b"setname")));
        let u = user("+@all -@admin +client|list -acl|cat");
        assert_eq!(
            u.commands().describe(),
            "+@all -@admin -acl|cat +client|list"
        );
    }

    #[test]
    fn selectors_add_permission_sets() {
        let u = user("on ~a* +get (~b* +set) (&news -@all +publish)");
        assert_eq!(
            u.describe(),
            "on ~a* resetchannels -@all +get (~b* resetchannels -@all +set) (resetchannels &news -@all +publish)"
        );
        assert_eq!(u.selectors().len(), 2);
        // Split over arguments, as clients send them.
        let split = apply_all(
            &User::new("u"),
            [
                "on",
                "~a*",
                "+get",
                "(~b*",
                "+set)",
                "(&news",
                "-@all",
                "+publish)",
            ]
            .map(str::as_bytes),
        )
        .expect("joined");
        assert_eq!(split.describe(), u.describe());
        assert_eq!(user(&u.describe()).describe(), u.describe());
        assert!(user("(+get) clearselectors").selectors().is_empty());
        assert!(user("(+get) reset").selectors().is_empty());
        assert_eq!(err("(+get"), RuleError::UnmatchedParenthesis);
        assert_eq!(err("(on)"), RuleError::Syntax);
        assert_eq!(err("(>pw)"), RuleError::Syntax);
    }

    #[test]
    fn key_and_channel_patterns() {
        let u = user("~a* %R~b* %W~c* %W~b*");
        assert_eq!(u.describe_keys(), "~a* ~b* %W~c*");
        assert_eq!(user("~*").describe_keys(), "~*");
        assert_eq!(user("allkeys").describe_keys(), "~*");
        assert_eq!(user("%R~*").describe_keys(), "%R~*");
        assert_eq!(user("%W~* %R~*").describe_keys(), "~*");
        assert_eq!(err("%W~* %R~* ~a"), RuleError::KeysAfterAll);
        assert_eq!(err("allkeys ~x"), RuleError::KeysAfterAll);
        assert_eq!(err("%X~x"), RuleError::Syntax);
        assert_eq!(user("allkeys resetkeys ~x").describe_keys(), "~x");
        assert_eq!(user("&a &b").describe_channels(), "&a &b");
        assert_eq!(user("&*").describe_channels(), "&*");
        assert_eq!(err("allchannels &x"), RuleError::ChannelsAfterAll);
        let reset = user("on nopass allkeys allchannels allcommands reset");
        assert_eq!(reset.describe(), "off resetchannels -@all");
    }

    fn rule() -> impl Strategy<Value = String> {
        let words = prop::sample::select(vec![
            "on",
            "off",
            "nopass",
            "resetpass",
            "allkeys",
            "resetkeys",
            "allchannels",
            "resetchannels",
            "allcommands",
            "nocommands",
            "reset",
            "clearselectors",
        ])
        .prop_map(str::to_string);
        let sign = prop::sample::select(vec!['+', '-']);
        let commands = (
            sign.clone(),
            prop::sample::select(vec!["get", "set", "config", "client", "acl", "flushall"]),
        )
            .prop_map(|(s, c)| format!("{s}{c}"));
        let categories = (
            sign.clone(),
            prop::sample::select(CATEGORIES_FOR_TESTS.to_vec()),
        )
            .prop_map(|(s, c)| format!("{s}@{c}"));
        let firsts = (
            sign,
            prop::sample::select(vec!["config", "client", "acl", "get"]),
            prop::sample::select(vec!["get", "set", "list", "whoami", "id"]),
        )
            .prop_map(|(s, c, f)| format!("{s}{c}|{f}"));
        let passwords =
            (prop::sample::select(vec!['>', '<']), "[abc]").prop_map(|(op, p)| format!("{op}{p}"));
        let keys = (
            prop::sample::select(vec!["~", "%R~", "%W~", "%RW~"]),
            "[ab*]{1,2}",
        )
            .prop_map(|(op, p)| format!("{op}{p}"));
        let channels = "[ab*]{1,2}".prop_map(|p| format!("&{p}"));
        let inner = prop_oneof![
            commands.clone(),
            categories.clone(),
            keys.clone(),
            channels.clone()
        ];
        let selectors =
            prop::collection::vec(inner, 0..4).prop_map(|rules| format!("({})", rules.join(" ")));
        prop_oneof![
            words, commands, categories, firsts, passwords, keys, channels, selectors
        ]
    }

    const CATEGORIES_FOR_TESTS: [&str; 8] = [
        "all",
        "read",
        "write",
        "admin",
        "dangerous",
        "connection",
        "string",
        "slow",
    ];

    proptest! {
        /// What ACL LIST / ACL SAVE print rebuilds the same user (ACL LOAD).
        #[test]
        fn described_rules_rebuild_the_same_permissions(
            rules in prop::collection::vec(rule(), 0..24)
        ) {
            let mut user = User::new("u");
            for r in &rules {
                // Refused rules (a pattern after allkeys, removing a missing
                // password) change nothing, as in ACL SETUSER.
                let _ = apply_all(&user, [r.as_bytes()]).map(|next| user = next);
            }
            let text = user.describe();
            let rebuilt = apply_all(&User::new("u"), text.split(' ').map(str::as_bytes))
                .map_err(|(rule, e)| {
                    TestCaseError::fail(format!("{text}: {} {e}", String::from_utf8_lossy(&rule)))
                })?;
            prop_assert_eq!(rebuilt.describe(), text.clone());
            for i in 0..table().all().len() {
                for first in [None, Some(&b"get"[..]), Some(b"list"), Some(b"whoami"), Some(b"x")] {
                    prop_assert_eq!(
                        user.commands().allows(i, first),
                        rebuilt.commands().allows(i, first),
                        "{} {:?} after {}", table().all()[i].name, first, text
                    );
                }
            }
            for p in ["a", "b", "c", "z"] {
                prop_assert_eq!(user.accepts(p.as_bytes()), rebuilt.accepts(p.as_bytes()));
            }
            prop_assert_eq!(user.describe_keys(), rebuilt.describe_keys());
            prop_assert_eq!(user.describe_channels(), rebuilt.describe_channels());
        }
    }
}
