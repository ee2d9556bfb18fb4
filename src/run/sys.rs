//! The system calls of the real-kernel backend and its one store into mapped
//! memory: the run layer's only `unsafe`. [`Area`] owns a reserved range of
//! address space and the regions mapped in it (`mmap`, `MAP_FIXED` replacement,
//! `madvise`, the atomic store a fault is made by); [`minor_faults`] is
//! `getrusage`. Off Linux every entry point reports that nothing can be mapped.

use crate::model::mm::{PAGE, REGION};

/// Pages in one region.
pub const PAGES: usize = (REGION / PAGE) as usize;

pub use imp::*;

/// Linux: the system calls, and the store into mapped memory.
#[cfg(target_os = "linux")]
mod imp {
    use std::io;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    use super::{PAGE, PAGES, REGION};

    /// `EINVAL`.
    pub const EINVAL: i32 = libc::EINVAL;

    /// What `advise` asks for.
    #[derive(Clone, Copy, Debug)]
    pub enum Advice {
        /// `MADV_DONTNEED`: drop the pages (the next write faults a zeroed page).
        DontNeed,
        /// `MADV_NOHUGEPAGE`: no transparent huge pages of any size.
        NoHugePage,
    }

    /// A reserved, no-access range of address space holding `slots` read-write
    /// regions, each [`REGION`] bytes at a [`REGION`]-aligned address, with a
    /// no-access guard of at least [`REGION`] bytes around each.
    ///
    /// Invariant: the whole range `[base, base + len)` belongs to this object from
    /// `new` until `drop` (nothing else in the process maps or uses it), and every
    /// region is mapped read-write unless `broken` is set. No Rust reference to the
    /// regions' memory ever exists; it is accessed only by `touch`'s atomic swap and
    /// by the kernel.
    pub struct Area {
        base: usize,
        len: usize,
        /// The first region's address.
        first: usize,
        slots: usize,
        /// A replacement failed: a region may be unmapped; no more stores.
        broken: AtomicBool,
    }

    impl Area {
        /// Reserve the range and map every region.
        pub fn new(slots: usize) -> io::Result<Area> {
            let region = REGION as usize;
            let too_big = || io::Error::new(io::ErrorKind::InvalidInput, "too many slots");
            let len = slots
                .checked_mul(2)
                .and_then(|n| n.checked_add(2))
                .and_then(|n| n.checked_mul(region))
                .ok_or_else(too_big)?;
            // SAFETY: without MAP_FIXED the kernel picks an address range that
            // overlaps no existing mapping, so no memory Rust knows about changes.
            let base = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_NONE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                    -1,
                    0,
                )
            };
            if base == libc::MAP_FAILED {
                return Err(io::Error::last_os_error());
            }
            let base = base as usize;
            // The first aligned address, then one guard region.
            let first = base.next_multiple_of(region) + region;
            // From here on, dropping the area unmaps the reservation.
            let area = Area {
                base,
                len,
                first,
                slots,
                broken: AtomicBool::new(false),
            };
            for slot in 0..slots {
                area.remap(slot)?;
            }
            Ok(area)
        }

        /// The address of `slot`'s region.
        pub fn region(&self, slot: usize) -> Option<usize> {
            (slot < self.slots).then(|| self.first + slot * 2 * REGION as usize)
        }

        /// `mmap(MAP_FIXED)` a fresh read-write anonymous region over `slot`'s.
        pub fn remap(&self, slot: usize) -> io::Result<()> {
            let addr = self.region(slot).ok_or_else(bad_slot)?;
            // SAFETY: `addr..addr + REGION` lies inside the reservation this object
            // owns (see `new`: the last region ends at least a page before
            // `base + len`), and no Rust reference points into it; replacing the
            // mapping changes only memory that `touch` reads atomically.
            let p = unsafe {
                libc::mmap(
                    addr as *mut libc::c_void,
                    REGION as usize,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                    -1,
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                let e = io::Error::last_os_error();
                // Relaxed: a stop flag; nothing is published through it.
                self.broken.store(true, Ordering::Relaxed);
                return Err(e);
            }
            Ok(())
        }

        /// `munmap` of `slot`'s region: the range is unmapped (a write there is
        /// SIGSEGV until [`map`](Area::map)).
        pub fn unmap(&self, slot: usize) -> io::Result<()> {
            let addr = self.region(slot).ok_or_else(bad_slot)?;
            // SAFETY: `addr..addr + REGION` lies inside the reservation this object
            // owns, and no Rust reference points into it (`touch` reads it through
            // a raw pointer, only for a slot that the caller keeps mapped).
            if unsafe { libc::munmap(addr as *mut libc::c_void, REGION as usize) } != 0 {
                let e = io::Error::last_os_error();
                // Relaxed: a stop flag; nothing is published through it.
                self.broken.store(true, Ordering::Relaxed);
                return Err(e);
            }
            Ok(())
        }

        /// `mmap(MAP_FIXED_NOREPLACE)` of a new anonymous mapping over `slot`'s
        /// region, which [`unmap`](Area::unmap) left empty: fails with `EEXIST`
        /// rather than replace anything another allocation put there since.
        pub fn map(&self, slot: usize) -> io::Result<()> {
            let addr = self.region(slot).ok_or_else(bad_slot)?;
            // SAFETY: MAP_FIXED_NOREPLACE never replaces an existing mapping, so no
            // memory Rust knows about changes; the range is our unmapped region.
            let p = unsafe {
                libc::mmap(
                    addr as *mut libc::c_void,
                    REGION as usize,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
                    -1,
                    0,
                )
            };
            if p == libc::MAP_FAILED || p as usize != addr {
                let e = io::Error::last_os_error();
                // Relaxed: a stop flag; nothing is published through it.
                self.broken.store(true, Ordering::Relaxed);
                return Err(e);
            }
            Ok(())
        }

        /// `madvise` `pages` pages of `slot`'s region from page `first`.
        pub fn advise(
            &self,
            slot: usize,
            first: usize,
            pages: usize,
            advice: Advice,
        ) -> io::Result<()> {
            let region = self.region(slot).ok_or_else(bad_slot)?;
            if !matches!(first.checked_add(pages), Some(end) if end <= PAGES) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "page range outside the region",
                ));
            }
            let advice = match advice {
                Advice::DontNeed => libc::MADV_DONTNEED,
                Advice::NoHugePage => libc::MADV_NOHUGEPAGE,
            };
            let addr = region + first * PAGE as usize;
            // SAFETY: the range lies inside a region this object owns (checked
            // above). MADV_DONTNEED replaces its pages with zeroed ones on the next
            // access, which no Rust reference can observe (`touch` is atomic);
            // MADV_NOHUGEPAGE only changes the VMA's flags.
            let r =
                unsafe { libc::madvise(addr as *mut libc::c_void, pages * PAGE as usize, advice) };
            if r == 0 {
                Ok(())
            } else {
                Err(io::Error::last_os_error())
            }
        }

        /// Swap `value` into the first word of page `page` of `slot`'s region and
        /// return the old word; None for a bad index or after a failed replacement.
        #[inline]
        pub fn touch(&self, slot: usize, page: usize, value: u64) -> Option<u64> {
            // Relaxed: a stop flag (see `remap`).
            if page >= PAGES || self.broken.load(Ordering::Relaxed) {
                return None;
            }
            let addr = self.region(slot)? + page * PAGE as usize;
            // SAFETY: `addr` is page-aligned, so aligned for u64, inside a region
            // that is mapped read-write now: a replacement swaps mappings atomically
            // in the kernel (one that fails sets `broken`), and a region is unmapped
            // only by its one owner between its `unmap` and `map` (the backend runs
            // munmap churn only under `private` skew, checked before the run).
            // Rust accesses this memory only through atomic operations like this
            // one, so there is no data race and no aliasing reference.
            let word = unsafe { AtomicU64::from_ptr(addr as *mut u64) };
            // Relaxed: the value orders nothing; the kernel's fault is the point.
            Some(word.swap(value, Ordering::Relaxed))
        }
    }

    impl Drop for Area {
        fn drop(&mut self) {
            // SAFETY: the reservation is this object's (see `Area`), and no handle
            // can still touch it: handles borrow the scheme that owns the area.
            // Failure (impossible for a range we mapped) would only leak it.
            unsafe { libc::munmap(self.base as *mut libc::c_void, self.len) };
        }
    }

    fn bad_slot() -> io::Error {
        io::Error::new(io::ErrorKind::InvalidInput, "no such slot")
    }

    /// `getrusage(RUSAGE_SELF).ru_minflt`.
    pub fn minor_faults() -> io::Result<u64> {
        let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: getrusage writes one `rusage` through a valid pointer to one;
        // the zeroed bytes are a valid `rusage` already (integer fields only), so
        // `assume_init` is sound whether or not the call wrote it.
        let (r, usage) = unsafe {
            (
                libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()),
                usage.assume_init(),
            )
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(usage.ru_minflt as u64)
    }
}

/// Not Linux: nothing can be mapped; every entry point reports that.
#[cfg(not(target_os = "linux"))]
mod imp {
    use std::io;

    /// `EINVAL` (unused here).
    pub const EINVAL: i32 = 22;

    /// What `advise` asks for.
    #[derive(Clone, Copy, Debug)]
    pub enum Advice {
        /// `MADV_DONTNEED`.
        DontNeed,
        /// `MADV_NOHUGEPAGE`.
        NoHugePage,
    }

    /// No value of this type exists off Linux.
    pub enum Area {}

    fn unsupported() -> io::Error {
        io::Error::new(io::ErrorKind::Unsupported, "not Linux")
    }

    impl Area {
        pub fn new(_slots: usize) -> io::Result<Area> {
            Err(unsupported())
        }
        pub fn region(&self, _slot: usize) -> Option<usize> {
            match *self {}
        }
        pub fn remap(&self, _slot: usize) -> io::Result<()> {
            match *self {}
        }
        pub fn unmap(&self, _slot: usize) -> io::Result<()> {
            match *self {}
        }
        pub fn map(&self, _slot: usize) -> io::Result<()> {
            match *self {}
        }
        pub fn advise(&self, _: usize, _: usize, _: usize, _: Advice) -> io::Result<()> {
            match *self {}
        }
        pub fn touch(&self, _: usize, _: usize, _: u64) -> Option<u64> {
            match *self {}
        }
    }

    pub fn minor_faults() -> io::Result<u64> {
        Err(unsupported())
    }
}
