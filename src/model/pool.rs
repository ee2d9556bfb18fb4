//! A type-stable object pool: the model of a SLAB_TYPESAFE_BY_RCU cache with
//! per-CPU sheaves.
//!
//! Objects come in slabs of [`SHEAF`] and are constructed once (the cache's
//! constructor initialises the per-VMA lock). A freed object goes straight back
//! into the freeing thread's sheaf and may be handed out again at once, to any mm.
//! Slab memory is never returned during a run: it is released when the pool is
//! dropped, so a stale reader always reads a `Vma`. The kernel returns slab pages
//! only after a grace period; a run here never shrinks the cache, so it makes no
//! slab-release free calls.

use std::ptr::NonNull;
use std::sync::Mutex;

use crate::model::boxed::SendPtr;
use crate::model::vma::Vma;

/// Objects per sheaf and per slab, as the kernel's `vm_area_struct` cache uses.
pub const SHEAF: usize = 32;

/// The pool: a depot of full sheaves shared by all threads, and the slabs.
#[derive(Default)]
pub struct Pool {
    depot: Mutex<Vec<Vec<SendPtr>>>,
    slabs: Mutex<Vec<SlabPtr>>,
}

/// A slab's memory, owned by the pool until it is dropped.
struct SlabPtr(NonNull<[Vma]>);

// SAFETY: the pool is the slab's only owner; `Vma` is `Sync`.
unsafe impl Send for SlabPtr {}

impl Drop for Pool {
    fn drop(&mut self) {
        let slabs = std::mem::take(self.slabs.get_mut().unwrap_or_else(|e| e.into_inner()));
        for s in slabs {
            // SAFETY: made by `Box::into_raw` in `grow`; the pool is dropped, so no
            // cache or reader can reach its objects any more; freed once.
            drop(unsafe { Box::from_raw(s.0.as_ptr()) });
        }
    }
}

/// A thread's sheaves ("main" and "spare").
pub struct Cache<'a> {
    pool: &'a Pool,
    main: Vec<SendPtr>,
    spare: Vec<SendPtr>,
}

impl Drop for Cache<'_> {
    fn drop(&mut self) {
        let mut depot = self.pool.depot.lock().unwrap_or_else(|e| e.into_inner());
        for s in [
            std::mem::take(&mut self.main),
            std::mem::take(&mut self.spare),
        ] {
            if !s.is_empty() {
                depot.push(s);
            }
        }
    }
}

impl Pool {
    /// A cache for one thread.
    pub fn cache(&self) -> Cache<'_> {
        Cache {
            pool: self,
            main: Vec::with_capacity(SHEAF),
            spare: Vec::with_capacity(SHEAF),
        }
    }

    /// An object: from the thread's sheaves, else a sheaf from the depot, else a
    /// new slab. It is detached (freed objects always are, new ones are built so).
    #[inline]
    pub fn alloc(&self, cache: &mut Cache<'_>) -> NonNull<Vma> {
        if let Some(p) = cache.main.pop() {
            return p.0;
        }
        if !cache.spare.is_empty() {
            std::mem::swap(&mut cache.main, &mut cache.spare);
        } else {
            let full = self.depot.lock().unwrap_or_else(|e| e.into_inner()).pop();
            match full {
                Some(sheaf) => cache.main = sheaf,
                None => self.grow(&mut cache.main),
            }
        }
        cache.main.pop().expect("a refilled sheaf is not empty").0
    }

    /// Give an object back; it may be handed out again at once.
    #[inline]
    pub fn free(&self, cache: &mut Cache<'_>, vma: NonNull<Vma>) {
        if cache.main.len() == SHEAF {
            if cache.spare.is_empty() {
                std::mem::swap(&mut cache.main, &mut cache.spare);
            } else {
                let full = std::mem::replace(&mut cache.main, Vec::with_capacity(SHEAF));
                self.depot
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(full);
            }
        }
        cache.main.push(SendPtr(vma));
    }

    /// Objects ever constructed (slabs times objects per slab).
    pub fn objects(&self) -> usize {
        self.slabs.lock().unwrap_or_else(|e| e.into_inner()).len() * SHEAF
    }

    fn grow(&self, into: &mut Vec<SendPtr>) {
        let slab: Box<[Vma]> = (0..SHEAF).map(|_| Vma::new()).collect();
        let raw = NonNull::from(Box::leak(slab));
        // SAFETY: just leaked: valid, and it stays allocated until the pool drops.
        let objects = unsafe { raw.as_ref() };
        into.extend(objects.iter().map(|v| SendPtr(NonNull::from(v))));
        self.slabs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(SlabPtr(raw));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_freed_object_is_reused_at_once_and_slabs_grow_by_a_sheaf() {
        let pool = Pool::default();
        let mut c = pool.cache();
        let a = pool.alloc(&mut c);
        assert_eq!(pool.objects(), SHEAF);
        pool.free(&mut c, a);
        assert_eq!(pool.alloc(&mut c), a, "LIFO: the warm object comes back");
        let many: Vec<_> = (0..3 * SHEAF).map(|_| pool.alloc(&mut c)).collect();
        assert_eq!(pool.objects(), 4 * SHEAF);
        for p in many {
            pool.free(&mut c, p);
        }
        // Sheaves overflowed into the depot; another thread gets them, no new slab.
        let mut other = pool.cache();
        for _ in 0..SHEAF {
            pool.alloc(&mut other);
        }
        assert_eq!(pool.objects(), 4 * SHEAF);
    }
}
