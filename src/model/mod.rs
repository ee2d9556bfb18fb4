//! The model of the kernel objects: where the harness's VMAs and index nodes come
//! from and where they go when freed. [`slab`] is SLUB's `kmem_cache` with per-CPU
//! sheaves, a barn, partial slabs and `min_partial`, over [`page`], a page
//! allocator of 4 KiB pages from 2 MiB arenas that finds an object's `struct slab`
//! from its address. Every scheme allocates from the same caches, so a comparison
//! of reclamation schemes differs only in what happens on free, as in the kernel
//! before and after SLAB_TYPESAFE_BY_RCU.

pub mod page;
pub mod slab;
