//! The RCU flavours this build has, for the test files whose every test runs
//! under each of them (`twins.rs`, `scripted.rs`: `#[macro_use] mod flavours;`).

/// Makes, for each RCU flavour this build has, a module named after the
/// flavour holding one `#[test]` per name given; each runs the generic
/// function of that name in the invoking file (`fn name<R: Rcu>()`) with the
/// flavour's type. `every_flavour!(n2_free_attached)` makes
/// `epoch::n2_free_attached`, `seize::n2_free_attached` and, where liburcu is
/// built in (`cfg(vma_bench_urcu)`), `urcu_memb::n2_free_attached` and
/// `urcu_qsbr::n2_free_attached`.
///
/// It also makes `the_tests_run_under_every_flavour_this_build_has`, which sets
/// the flavours given a module here against the registry's list of the flavours
/// this build has, so a flavour added to the registry without a module here
/// fails it.
macro_rules! every_flavour {
    ($($test:ident),+ $(,)?) => {
        every_flavour!(@one epoch, vma_bench::rcu::Epoch; $($test),+);
        every_flavour!(@one seize, vma_bench::rcu::Seize; $($test),+);
        #[cfg(vma_bench_urcu)]
        every_flavour!(@one urcu_memb, vma_bench::rcu::UrcuMemb; $($test),+);
        #[cfg(vma_bench_urcu)]
        every_flavour!(@one urcu_qsbr, vma_bench::rcu::UrcuQsbr; $($test),+);

        #[test]
        fn the_tests_run_under_every_flavour_this_build_has() {
            use vma_bench::rcu::Rcu;
            let mut given = vec![vma_bench::rcu::Epoch::NAME, vma_bench::rcu::Seize::NAME];
            #[cfg(vma_bench_urcu)]
            given.extend([vma_bench::rcu::UrcuMemb::NAME, vma_bench::rcu::UrcuQsbr::NAME]);
            let built: Vec<&str> = vma_bench::schemes::Flavour::ALL
                .into_iter()
                .filter(|f| f.available())
                .map(|f| f.name())
                .collect();
            assert_eq!(given, built);
        }
    };
    (@one $flavour:ident, $rcu:ty; $($test:ident),+) => {
        #[doc = concat!("Every test of this file under `", stringify!($rcu), "`.")]
        mod $flavour {
            $(
                #[test]
                fn $test() {
                    super::$test::<$rcu>();
                }
            )+
        }
    };
}
