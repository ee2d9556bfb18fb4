//! The broken twins of `typesafe`, in one table.
//!
//! A twin is [`Typesafe`] with one [`Mistake`] of the protocol compiled in; it
//! shares every other line with the correct scheme. Each row of the table at the
//! end of this file is one twin: its type, the [`Mistake`] it compiles in, its name
//! (command line and CSV), the bug's id (as the typesafe patch's review numbered
//! them: N1, N2, ...), what the bug is, and who found it. From the table come the
//! twins' [`Variant`] types, the [`Twin`] entries of the registry (its
//! `SchemeId::Twin`), their names, their one-line descriptions and the arms of
//! [`Twin::visit`].
//!
//! Adding a twin is one [`Mistake`] variant (in `model/vma.rs`, where the protocol
//! branches on it) and one row here. The mistakes with no row (N4, N5, N16,
//! `PublishRelaxed`) show only under weak memory; the loom models take them.

use crate::model::scheme::Visit;
use crate::model::vma::Mistake;
use crate::rcu::Rcu;
use crate::schemes::rcu::{Typesafe, Variant};

/// Makes the twins from the rows of the table; see the module documentation.
macro_rules! twins {
    ($(
        $ty:ident {
            mistake: $mistake:path,
            name: $name:literal,
            bug: $bug:literal,
            what: $what:literal,
            found_by: $found_by:literal $(,)?
        }
    )*) => {
        $(
            #[doc = concat!("Twin ", $bug, " (`", $name, "`): ", $what, ". Found by ", $found_by, ".")]
            #[derive(Debug)]
            pub struct $ty;

            impl Variant for $ty {
                const NAME: &'static str = $name;
                const MISTAKE: Mistake = $mistake;
            }
        )*

        /// A broken twin of `typesafe`: one row of the table.
        #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
        pub enum Twin {
            $(
                #[doc = concat!("`", $name, "`, ", $bug, ": ", $what, ".")]
                $ty,
            )*
        }

        impl Twin {
            /// Every twin, in the table's order.
            pub const ALL: [Twin; [$($name),*].len()] = [$(Twin::$ty),*];

            /// The name on the command line and in the CSV.
            pub fn name(self) -> &'static str {
                match self {
                    $(Twin::$ty => $name,)*
                }
            }

            /// The protocol mistake compiled in.
            pub fn mistake(self) -> Mistake {
                match self {
                    $(Twin::$ty => $mistake,)*
                }
            }

            /// The bug's id in the patch's review (`N6`).
            pub fn bug(self) -> &'static str {
                match self {
                    $(Twin::$ty => $bug,)*
                }
            }

            /// Who found the bug, and how.
            pub fn found_by(self) -> &'static str {
                match self {
                    $(Twin::$ty => $found_by,)*
                }
            }

            /// One line saying what the twin is.
            pub fn about(self) -> &'static str {
                match self {
                    $(Twin::$ty => concat!("BROKEN twin of typesafe (", $bug, "): ", $what),)*
                }
            }

            /// Run `v` with the twin's type over flavour `R`, `Typesafe<R, its variant>`.
            pub fn visit<R: Rcu, V: Visit>(self, v: V) -> V::Out {
                match self {
                    $(Twin::$ty => v.visit::<Typesafe<R, $ty>>(),)*
                }
            }
        }
    };
}

twins! {
    NoMmCheck {
        mistake: Mistake::NoMmCheck,
        name: "typesafe-no-mm-check",
        bug: "N6",
        what: "no vma->vm_mm == mm check",
        found_by: "the patch itself, case 1",
    }
    DupCopiesRefcnt {
        mistake: Mistake::DupCopiesRefcnt,
        name: "typesafe-dup-copies-refcnt",
        bug: "N1",
        what: "vm_area_dup copies the attached refcount",
        found_by: "merged commit text",
    }
    FreeAttached {
        mistake: Mistake::FreeAttached,
        name: "typesafe-free-attached",
        bug: "N2",
        what: "a VMA is freed still attached (refcnt 1)",
        found_by: "merged commit text",
    }
    DetachNoWait {
        mistake: Mistake::DetachNoWait,
        name: "typesafe-detach-no-wait",
        bug: "N3",
        what: "detach does not wait for readers",
        found_by: "Peter Zijlstra, v6 review",
    }
    PutOnRetry {
        mistake: Mistake::PutOnRetry,
        name: "typesafe-put-on-retry",
        bug: "N8",
        what: "a put without a get on the detached/retry path",
        found_by: "Heiko Carstens, LTP mtest06 crash",
    }
    MmUnpinned {
        mistake: Mistake::MmUnpinned,
        name: "typesafe-mm-unpinned",
        bug: "N10",
        what: "wakes the other mm's writer without pinning it (needs --exits)",
        found_by: "Jann Horn, Jul 2025 (KASAN use-after-free)",
    }
    NoAddrCheck {
        mistake: Mistake::NoAddrCheck,
        name: "typesafe-no-addr-check",
        bug: "N13",
        what: "no address check after locking",
        found_by: "the patch, case 1",
    }
    SeqOfVmaMm {
        mistake: Mistake::SeqOfVmaMm,
        name: "typesafe-seq-of-vma-mm",
        bug: "N7",
        what: "lock checks against vma->vm_mm's sequence, not the caller's mm",
        found_by: "the patch, case 2",
    }
    FreeResetsSeq {
        mistake: Mistake::FreeResetsSeq,
        name: "typesafe-free-resets-seq",
        bug: "N9",
        what: "the free path resets lock_seq before readers drain",
        found_by: "Vlastimil Babka, v5 review",
    }
    ForkUnlocked {
        mistake: Mistake::ForkUnlocked,
        name: "typesafe-fork-unlocked",
        bug: "N15",
        what: "fork copies the parent's VMAs without write-locking them (needs --forks)",
        found_by: "Jiri Slaby, Holger Hoffstätte, Jacob Young: Linux 6.4 memory corruption (bugzilla 217624)",
    }
    StaleRetry {
        mistake: Mistake::StaleRetry,
        name: "typesafe-stale-retry",
        bug: "N17",
        what: "after a miss, the retry walks on from the leaf kept from the last read section, not from the root (needs --churn-kind unmap-map, and a flavour other than urcu-qsbr)",
        found_by: "syzbot, Nov 2025 (KASAN use-after-free); fixed by Liam R. Howlett: reset the maple state on retry",
    }
    ChangeUnlocked {
        mistake: Mistake::ChangeUnlocked,
        name: "typesafe-change-unlocked",
        bug: "N14",
        what: "an in-place change (mprotect) rewrites an attached VMA without vma_start_write (needs --changes)",
        found_by: "the per-VMA lock's rule, Linux 6.4: every change of a VMA write-locks it first",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two rows with one mistake would be one twin under two names.
    #[test]
    fn every_twin_compiles_in_its_own_mistake() {
        for (i, a) in Twin::ALL.iter().enumerate() {
            assert_ne!(a.mistake(), Mistake::None, "{}", a.name());
            for b in &Twin::ALL[i + 1..] {
                assert_ne!(a.mistake(), b.mistake(), "{} and {}", a.name(), b.name());
                assert_ne!(a.bug(), b.bug(), "{} and {}", a.name(), b.name());
            }
        }
    }

    /// The README's twin table, written by hand, agrees with this one: each
    /// twin's row there carries its bug id and its finder.
    #[test]
    fn the_readme_table_names_each_twins_bug_and_finder() {
        let readme = include_str!("../../README.md");
        let (_, table) = readme
            .split_once("### Broken twins")
            .expect("README has a section on the broken twins");
        for t in Twin::ALL {
            let row = table
                .lines()
                .find(|l| l.starts_with(&format!("| `{}` |", t.name())))
                .unwrap_or_else(|| panic!("no README row for {}", t.name()));
            assert!(
                row.contains(&format!("| {}: ", t.bug())),
                "{}: {row}",
                t.name()
            );
            assert!(
                row.contains(&format!("| {} |", t.found_by())),
                "{}: {row}",
                t.name()
            );
        }
    }
}
