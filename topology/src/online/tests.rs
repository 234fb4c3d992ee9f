//! The online placer's tests.

use super::*;

mod ranking_tests {
    use super::*;
    use gpupart_profiles::catalog::A100_40GB;
    use proptest::prelude::*;

    proptest! {
        /// The first of the ranking is where `place` puts the instance.
        #[test]
        fn ranking_leads_with_what_place_picks(ops in prop::collection::vec((0usize..7, any::<bool>()), 1..40)) {
            let mut online = Online::new(Fleet::uniform(&A100_40GB, 4));
            let names: Vec<ProfileName> = A100_40GB.profiles.iter().map(|p| p.name).collect();
            let mut held: Vec<(u32, u8)> = Vec::new();
            for (k, release) in ops {
                if release && !held.is_empty() {
                    let (g, s) = held.remove(k % held.len());
                    online.release(g, s).unwrap();
                    continue;
                }
                let want = names[k % names.len()];
                let first = ranking(online.fleet(), &want, online.expected()).first().copied();
                match online.place(&want, None) {
                    Ok(p) => {
                        prop_assert_eq!(first, Some((p.gpu, p.instance.start)));
                        held.push((p.gpu, p.instance.start));
                    }
                    Err(_) => prop_assert_eq!(first, None),
                }
            }
        }
    }
}

mod placement {
    use super::*;
    use gpupart_profiles::catalog::A100_40GB;

    fn name(s: &str) -> ProfileName {
        s.parse().unwrap()
    }

    #[test]
    fn keeps_room_for_large_profiles() {
        let mut online = Online::new(Fleet::uniform(&A100_40GB, 2));
        // A 1g goes to the top of the GPU, away from slices 0-3 where a 4g starts.
        let a = online.place(&name("1g.5gb"), None).unwrap();
        assert_eq!((a.gpu, a.instance.start), (0, 6));
        // The next 1g goes next to it, on the same GPU (best fit).
        let b = online.place(&name("1g.5gb"), None).unwrap();
        assert_eq!(b.gpu, 0);
        assert!(b.instance.start >= 4);
        // A 4g still fits on GPU 0; the 7g goes to GPU 1.
        let c = online.place(&name("4g.20gb"), None).unwrap();
        assert_eq!((c.gpu, c.instance.start), (0, 0));
        let d = online.place(&name("7g.40gb"), None).unwrap();
        assert_eq!(d.gpu, 1);
        assert!(online.place(&name("7g.40gb"), None).is_err());
        online.release(1, 0).unwrap();
        assert!(online.release(1, 0).is_err());
        assert_eq!(online.place(&name("7g.40gb"), None).unwrap().gpu, 1);
    }

    #[test]
    fn gpus_are_named_by_index_and_missing_profiles_are_not_no_room() {
        use crate::Gpu;
        use gpupart_profiles::catalog::H100_SXM_80GB;
        let fleet = Fleet::new(vec![
            Gpu::new(40, &H100_SXM_80GB).with_numa_node(1),
            Gpu::new(7, &H100_SXM_80GB),
        ])
        .unwrap();
        let mut online = Online::new(fleet);
        let p = online.place(&name("7g.80gb"), Some(1)).unwrap();
        assert_eq!(p.gpu, 40, "the GPU's index, not its position");
        assert!(matches!(
            online.place(&name("7g.80gb"), Some(1)),
            Err(Error::NoRoom { .. })
        ));
        // No GPU of the fleet has these: retrying cannot help.
        for missing in ["7g.40gb", "9g.90gb"] {
            assert!(matches!(
                online.place(&name(missing), None),
                Err(Error::NoSuchProfile { .. })
            ));
        }
        assert!(matches!(
            online.place(&name("1g.10gb"), Some(5)),
            Err(Error::NoSuchProfile {
                numa_node: Some(5),
                ..
            })
        ));
        online.release(40, 0).unwrap();
        assert!(matches!(online.release(1, 0), Err(Error::NoGpu { gpu: 1 })));
        assert!(matches!(
            Fleet::new(vec![
                Gpu::new(3, &H100_SXM_80GB),
                Gpu::new(3, &H100_SXM_80GB)
            ]),
            Err(Error::DuplicateGpu { gpu: 3 })
        ));
    }

    #[test]
    fn room_counts_only_expected_profiles() {
        // By default a 1g keeps away from the slices a 4g or a 7g needs.
        let mut online = Online::new(Fleet::uniform(&A100_40GB, 1));
        assert_eq!(
            online.place(&name("1g.5gb"), None).unwrap().instance.start,
            6
        );
        // A workload of 2g and 1g: the 1g still spares the 2g starts 0, 2 and 4.
        let mut online = Online::new(Fleet::uniform(&A100_40GB, 1));
        online.expect(&[name("1g.5gb"), name("2g.10gb")]);
        assert_eq!(
            online.place(&name("1g.5gb"), None).unwrap().instance.start,
            6
        );
        // Only 1g instances expected: every start loses the same, the lowest wins.
        let mut online = Online::new(Fleet::uniform(&A100_40GB, 1));
        online.place(&name("1g.5gb"), None).unwrap();
        online.expect(&[name("1g.5gb")]);
        assert_eq!(
            online.place(&name("1g.5gb"), None).unwrap().instance.start,
            0
        );
    }
}

mod admission {
    use super::*;
    use crate::Gpu;
    use gpupart_profiles::catalog::A100_40GB;
    use proptest::prelude::*;

    fn name(s: &str) -> ProfileName {
        s.parse().unwrap()
    }

    #[test]
    fn held_back_profiles_are_withheld_not_no_room() {
        // Two A100s, one 1g.5gb already in use; 15 1g.5gb and 5 2g.10gb offered: the
        // optimum keeps 14 1g and no 2g.
        let mut g = Gpu::new(0, &A100_40GB);
        g.add("1g.5gb", 0, true).unwrap();
        let mut online = Online::new(Fleet::new(vec![g, Gpu::new(1, &A100_40GB)]).unwrap());
        assert_eq!(online.in_service(&name("1g.5gb")), 1);
        let loads = [
            Load::new(name("1g.5gb"), 15.0, 1.0).unwrap(),
            Load::new(name("2g.10gb"), 5.0, 1.0).unwrap(),
        ];
        let a = online.admit(&loads).unwrap();
        assert_eq!(a.cap(&name("1g.5gb")), Some(14));
        assert_eq!(a.cap(&name("2g.10gb")), Some(0));
        let e = online.place(&name("2g.10gb"), None).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Withheld {
                    cap: 0,
                    in_service: 0,
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(
            e.to_string(),
            "2g.10gb is held back: 0 in service, the admission cap is 0"
        );
        let mut held = Vec::new();
        for _ in 0..13 {
            held.push(online.place(&name("1g.5gb"), None).unwrap());
        }
        assert_eq!(online.in_service(&name("1g.5gb")), 14);
        assert!(matches!(
            online.place(&name("1g.5gb"), None),
            Err(Error::Withheld { in_service: 14, .. })
        ));
        let p = held.pop().unwrap();
        online.release(p.gpu, p.instance.start).unwrap();
        assert_eq!(online.in_service(&name("1g.5gb")), 13);
        online.place(&name("1g.5gb"), None).unwrap();
        // A profile outside the workload is not capped (and there is no room left).
        assert!(matches!(
            online.place(&name("1g.10gb"), None),
            Err(Error::NoRoom { .. })
        ));
        // A failed admission leaves the placer as it was.
        assert!(
            online
                .admit(&[Load::new(name("9g.90gb"), 1.0, 1.0).unwrap()])
                .is_err()
        );
        assert_eq!(online.admission().unwrap().cap(&name("2g.10gb")), Some(0));
    }

    #[test]
    fn placement_follows_the_plan() {
        // Four A100s, 10 2g.10gb and 10 3g.20gb offered: the optimum fills every GPU with
        // three instances (three 2g, or a 3g and two 2g), so a 3g beside another 3g is off
        // the plan; a GPU with an instance outside the workload is never off it.
        let loads = [
            Load::new(name("2g.10gb"), 10.0, 1.0).unwrap(),
            Load::new(name("3g.20gb"), 10.0, 1.0).unwrap(),
        ];
        let mut online = Online::new(Fleet::uniform(&A100_40GB, 4));
        let a = online.admit(&loads).unwrap().clone();
        assert_eq!(a.cap(&name("3g.20gb")), Some(4));
        // The fleet's own model: a model's identity is its address.
        let model = online.fleet().gpus()[0].model;
        let p = |n: &str| model.profile_by_str(n).unwrap();
        let with = |placed: &[(&str, u8)]| {
            let mut occ = Occupancy::new(model);
            for &(n, start) in placed {
                occ.add(p(n), start).unwrap();
            }
            occ
        };
        assert!(a.on_plan(&with(&[("3g.20gb", 4), ("2g.10gb", 0)])));
        assert!(!a.on_plan(&with(&[("3g.20gb", 4), ("3g.20gb", 0)])));
        // Where an instance sits counts, not only how many there are: beside a 3g at slice
        // 0 a 2g can only go to slice 4, and then no second 2g fits; a 3g at slice 0 of an
        // empty GPU leaves the same dead end, at slice 4 it does not.
        assert!(!a.on_plan(&with(&[("3g.20gb", 0), ("2g.10gb", 4)])));
        assert!(!a.on_plan(&with(&[("3g.20gb", 0)])));
        assert!(a.on_plan(&with(&[("3g.20gb", 4)])));
        assert!(a.on_plan(&with(&[("2g.10gb", 0)])));
        // Outside the workload: never off the plan.
        assert!(a.on_plan(&with(&[("1g.5gb", 0), ("3g.20gb", 4)])));
        // So the two 3g go to two GPUs, and ten 2g fill the rest, three instances a GPU.
        let x = online.place(&name("3g.20gb"), None).unwrap();
        let y = online.place(&name("3g.20gb"), None).unwrap();
        assert_ne!(x.gpu, y.gpu);
        for _ in 0..10 {
            online.place(&name("2g.10gb"), None).unwrap();
        }
        for g in online.fleet().gpus() {
            assert_eq!(
                g.instances().len(),
                3,
                "GPU {}: {:?}",
                g.index,
                g.instances()
            );
        }
    }

    proptest! {
        /// Under any sequence of places and releases, a capped profile never has more in
        /// service than its cap allows a place to add, and the count of instances in
        /// service is the fleet's.
        #[test]
        fn caps_hold_and_counts_match(
            offered in prop::collection::vec(0.0f64..30.0, 4),
            ops in prop::collection::vec((0usize..4, any::<bool>()), 1..80),
        ) {
            let names = [name("1g.5gb"), name("2g.10gb"), name("3g.20gb"), name("7g.40gb")];
            let mut online = Online::new(Fleet::uniform(&A100_40GB, 3));
            let loads: Vec<Load> = names
                .iter()
                .zip(&offered)
                .map(|(n, e)| Load::new(*n, *e, 1.0).unwrap())
                .collect();
            let caps: Vec<Option<u32>> = {
                let a = online.admit(&loads).unwrap();
                prop_assert!((0.0..=1.0).contains(&a.bound()));
                names.iter().map(|n| a.cap(n)).collect()
            };
            let mut held: Vec<(u32, u8)> = Vec::new();
            for (k, release) in ops {
                if release && !held.is_empty() {
                    let (g, s) = held.remove(k % held.len());
                    online.release(g, s).unwrap();
                } else {
                    let before = online.in_service(&names[k]);
                    match online.place(&names[k], None) {
                        Ok(p) => {
                            prop_assert!(caps[k].is_none_or(|c| before < c));
                            held.push((p.gpu, p.instance.start));
                        }
                        Err(Error::Withheld { cap, .. }) => {
                            prop_assert_eq!(Some(cap), caps[k]);
                            prop_assert!(before >= cap);
                        }
                        Err(e) => prop_assert!(matches!(e, Error::NoRoom { .. }), "{}", e),
                    }
                }
                for n in &names {
                    let in_fleet = online
                        .fleet()
                        .gpus()
                        .iter()
                        .flat_map(|g| g.instances())
                        .filter(|x| x.in_use && x.profile.name == *n)
                        .count();
                    prop_assert_eq!(online.in_service(n) as usize, in_fleet);
                }
            }
        }
    }
}
