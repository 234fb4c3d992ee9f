//! The catalog: every MIG-capable board of NVIDIA's default mig-parted configuration, with its
//! profile table, checked at compile time.
//!
//! # Sources, and what is `None`
//! - **H100 SXM5 80GB** (`0x233010DE`) and **H200 SXM 141GB** (`0x233510DE`): every field read
//!   from the real driver (NVML 13.580.159.04, driver 580.159.04, 2026-11-24, MIG mode disabled,
//!   read-only): `profiles/golden/` holds the raw NVML dump and `nvidia-smi mig -lgip/-lgipp`
//!   output, and a test compares these entries with it field by field.
//! - **A100 40GB/80GB**: NVIDIA's MIG user guide (profile table: slices, instances, copy
//!   engines, NVDEC/JPEG/OFA) and published `nvidia-smi mig -lgip` output (IDs, SMs).
//! - **A30**: published `nvidia-smi mig -lgip` output (IDs, SMs, engines) and the user guide.
//! - **Other Hopper boards** (H100 PCIe/NVL/96GB, GH200, H20, H200 NVL): the same GH100 profile
//!   structure as the measured H100/H200 (names from the default mig-parted configuration,
//!   engines per the user guide's Hopper table). H100 NVL and GH200 144GB: IDs and SMs of the
//!   first four profiles from `-lgip` output published in NVIDIA's mig-parted and gpu-operator
//!   pull requests; what no source showed stays `None`.
//! - **Blackwell** (B200, GB200, B300, GB300, RTX PRO 6000): names, slices and instance counts
//!   from the default mig-parted configuration and the user guide; B200 and GB200: SMs and
//!   engines of the first four profiles from published `-lgip` output, every profile ID from
//!   that output and GKE's partitioner (`partition_gpu.go`); RTX PRO 6000: the IDs, SMs and
//!   engines published for it (see [`RTX_PRO_6000_BLACKWELL`]); the rest is `None`.
//!
//! Memory in MiB depends on the driver version, so it is set only where read from a driver.

use crate::model::{
    Architecture, Board, ComputeInstanceProfile, Engines, GpuInstanceProfile, GpuModel,
    NvmlGiProfileIndex, PciDeviceId, Placement,
};
use crate::{Error, ProfileName};

const fn pl(start: u8, size: u8) -> Placement {
    Placement::new(start, size)
}

/// Placements of one-slice profiles on an 8-memory-slice GPU: `{0,1,2,3,4,5,6}:1`.
pub const EIGHTH_1: [Placement; 7] = [
    pl(0, 1),
    pl(1, 1),
    pl(2, 1),
    pl(3, 1),
    pl(4, 1),
    pl(5, 1),
    pl(6, 1),
];
/// One compute slice with two memory slices (`1g.10gb` on an A100-40GB): `{0,2,4,6}:2`.
pub const EIGHTH_1X2: [Placement; 4] = [pl(0, 2), pl(2, 2), pl(4, 2), pl(6, 2)];
/// Two-slice profiles: `{0,2,4}:2`.
pub const EIGHTH_2: [Placement; 3] = [pl(0, 2), pl(2, 2), pl(4, 2)];
/// Three-slice profiles (four memory slices): `{0,4}:4`.
pub const EIGHTH_3: [Placement; 2] = [pl(0, 4), pl(4, 4)];
/// Four-slice profiles: `{0}:4`.
pub const EIGHTH_4: [Placement; 1] = [pl(0, 4)];
/// The whole GPU: `{0}:8`.
pub const EIGHTH_7: [Placement; 1] = [pl(0, 8)];
/// One-slice profiles on a 4-memory-slice GPU (A30, RTX PRO 6000): `{0,1,2,3}:1`.
pub const QUARTER_1: [Placement; 4] = [pl(0, 1), pl(1, 1), pl(2, 1), pl(3, 1)];
/// Two-slice profiles on a 4-memory-slice GPU: `{0,2}:2`.
pub const QUARTER_2: [Placement; 2] = [pl(0, 2), pl(2, 2)];
/// The whole 4-memory-slice GPU: `{0}:4`.
pub const QUARTER_4: [Placement; 1] = [pl(0, 4)];

/// A GPU instance profile with its compute instance profiles `(compute slices, max instances)`.
macro_rules! gi {
    ($name:literal, $id:expr, $index:ident, $mem:literal, $inst:literal, $placements:expr,
     [$($c:literal => $n:literal),* $(,)?]) => {
        GpuInstanceProfile::new($name, $id, NvmlGiProfileIndex::$index, $mem, $inst, &$placements)
            .compute(&const {
                [$(ComputeInstanceProfile::new(ProfileName::from_static($name), $c, $n)),*]
            })
    };
}

/// Compute instances follow the MIG user guide: a GPU instance of N compute slices splits into
/// 1, 2, 3, 4 or 7-slice compute instances that fit.
///
/// The seven profiles of an 8-memory-slice, 7-compute-slice GPU (GA100, GH100, GB100), from
/// the names in the default mig-parted configuration: `1g.X`, `1g.X+me`, `1g.2X`, `2g.2X`,
/// `3g.4X`, `4g.4X`, `7g.8X`, with NVML IDs 19, 20, 15, 14, 9, 5, 0 where known.
macro_rules! seven_slice {
    ($ids:expr, $n1:literal, $n1me:literal, $n1x2:literal, $n2:literal, $n3:literal,
     $n4:literal, $n7:literal, $e:expr) => {{
        const IDS: [Option<u32>; 7] = $ids;
        let e: [Engines; 7] = $e;
        [
            gi!($n1, IDS[0], Slice1, 1, 7, EIGHTH_1, [1 => 1]).engines(e[0]),
            gi!($n1me, IDS[1], Slice1Rev1, 1, 1, EIGHTH_1, [1 => 1]).engines(e[1]),
            gi!($n1x2, IDS[2], Slice1Rev2, 2, 4, EIGHTH_1X2, [1 => 1]).engines(e[2]),
            gi!($n2, IDS[3], Slice2, 2, 3, EIGHTH_2, [1 => 2, 2 => 1]).engines(e[3]),
            gi!($n3, IDS[4], Slice3, 4, 2, EIGHTH_3, [1 => 3, 2 => 1, 3 => 1]).engines(e[4]),
            gi!($n4, IDS[5], Slice4, 4, 1, EIGHTH_4, [1 => 4, 2 => 2, 3 => 1, 4 => 1]).engines(e[5]),
            gi!($n7, IDS[6], Slice7, 8, 1, EIGHTH_7, [1 => 7, 2 => 3, 3 => 2, 4 => 1, 7 => 1]).engines(e[6]),
        ]
    }};
}

/// NVML profile IDs of the seven standard profiles on A100, H100 and H200 (read from the
/// driver on H100/H200; published for A100).
const STANDARD_IDS: [Option<u32>; 7] = [
    Some(19),
    Some(20),
    Some(15),
    Some(14),
    Some(9),
    Some(5),
    Some(0),
];

/// Where published `nvidia-smi mig -lgip` output shows only the first four rows (H100 NVL,
/// GH200 144GB, B200, GB200: NVIDIA/mig-parted#139 and #187, NVIDIA/gpu-operator#900,
/// NVIDIA/mig-parted#227), the IDs of the rest stay unknown.
const FIRST_FOUR_IDS: [Option<u32>; 7] = [Some(19), Some(20), Some(15), Some(14), None, None, None];

const NO_IDS: [Option<u32>; 7] = [None; 7];

const fn units(ce: u8, dec: u8, enc: u8, jpeg: u8, ofa: u8) -> Engines {
    Engines::units(ce, dec, enc, jpeg, ofa)
}

/// A100 engines per the MIG user guide's A100 table, SMs per published `-lgip` output.
const GA100_ENGINES: [Engines; 7] = [
    units(1, 0, 0, 0, 0).with_sms(14),
    units(1, 1, 0, 1, 1).with_sms(14),
    units(1, 1, 0, 0, 0).with_sms(14),
    units(2, 1, 0, 0, 0).with_sms(28),
    units(3, 2, 0, 0, 0).with_sms(42),
    units(4, 2, 0, 0, 0).with_sms(56),
    units(7, 5, 0, 1, 1).with_sms(98),
];

/// GH100 engines as the driver reports them on H100 SXM5 and H200 (golden data).
const GH100_UNITS: [Engines; 7] = [
    units(1, 1, 0, 1, 0),
    units(1, 1, 0, 1, 1),
    units(1, 1, 0, 1, 0),
    units(2, 2, 0, 2, 0),
    units(3, 3, 0, 3, 0),
    units(4, 4, 0, 4, 0),
    units(8, 7, 0, 7, 1),
];

/// GH100 SXM SM counts as the driver reports them (golden data).
const GH100_SXM_SMS: [u16; 7] = [16, 16, 26, 32, 60, 64, 132];

const fn with_sms(e: [Engines; 7], sms: [u16; 7]) -> [Engines; 7] {
    let mut out = e;
    let mut i = 0;
    while i < 7 {
        out[i] = e[i].with_sms(sms[i]);
        i += 1;
    }
    out
}

const fn measured(mut p: [GpuInstanceProfile; 7], mib: [u32; 7]) -> [GpuInstanceProfile; 7] {
    let mut i = 0;
    while i < 7 {
        p[i] = p[i].measured(mib[i], false);
        i += 1;
    }
    p
}

const UNKNOWN7: [Engines; 7] = [Engines::UNKNOWN; 7];

/// SM counts of the first four GH100 profiles as published `-lgip` output shows them on H100
/// NVL (NVIDIA/gpu-operator#900) and GH200 144GB (NVIDIA/mig-parted#139).
const fn gh100_first_four_sms() -> [Engines; 7] {
    let mut e = GH100_UNITS;
    e[0] = e[0].with_sms(16);
    e[1] = e[1].with_sms(16);
    e[2] = e[2].with_sms(26);
    e[3] = e[3].with_sms(32);
    e
}

/// B200, first four profiles from published `-lgip` output (NVIDIA/mig-parted#187).
const B200_ENGINES: [Engines; 7] = [
    units(2, 1, 0, 1, 0).with_sms(18),
    units(2, 1, 0, 1, 1).with_sms(18),
    units(2, 1, 0, 1, 0).with_sms(30),
    units(4, 2, 0, 2, 0).with_sms(36),
    Engines::UNKNOWN,
    Engines::UNKNOWN,
    Engines::UNKNOWN,
];

/// GB200, first four profiles from published `-lgip` output (NVIDIA/mig-parted#227,
/// NVIDIA/gpu-operator#1303).
const GB200_ENGINES: [Engines; 7] = [
    units(2, 1, 0, 1, 0).with_sms(18),
    units(2, 1, 0, 1, 1).with_sms(18),
    units(2, 1, 0, 1, 0).with_sms(32),
    units(4, 2, 0, 2, 0).with_sms(38),
    Engines::UNKNOWN,
    Engines::UNKNOWN,
    Engines::UNKNOWN,
];

const A100_40GB_PROFILES: [GpuInstanceProfile; 7] = seven_slice!(
    STANDARD_IDS,
    "1g.5gb",
    "1g.5gb+me",
    "1g.10gb",
    "2g.10gb",
    "3g.20gb",
    "4g.20gb",
    "7g.40gb",
    GA100_ENGINES
);

/// NVIDIA A100 40GB (and A800 40GB): 7 compute slices, 8 memory slices.
pub const A100_40GB: GpuModel = GpuModel::new(
    "A100-40GB",
    Architecture::Ampere,
    &[
        Board::new(0x20B0_10DE, "A100-SXM4-40GB", Some("NVIDIA A100-SXM4-40GB")),
        Board::new(0x20B1_10DE, "A100-PCIE-40GB", Some("NVIDIA A100-PCIE-40GB")),
        Board::new(0x20F1_10DE, "A100-PCIE-40GB", Some("NVIDIA A100-PCIE-40GB")),
        Board::new(0x20F6_10DE, "A800-40GB-PCIe", None),
    ],
    7,
    8,
    40,
    &A100_40GB_PROFILES,
);

const A100_80GB_PROFILES: [GpuInstanceProfile; 7] = seven_slice!(
    STANDARD_IDS,
    "1g.10gb",
    "1g.10gb+me",
    "1g.20gb",
    "2g.20gb",
    "3g.40gb",
    "4g.40gb",
    "7g.80gb",
    GA100_ENGINES
);

/// NVIDIA A100 80GB (and A800 80GB).
pub const A100_80GB: GpuModel = GpuModel::new(
    "A100-80GB",
    Architecture::Ampere,
    &[
        Board::new(0x20B2_10DE, "A100-SXM4-80GB", Some("NVIDIA A100-SXM4-80GB")),
        Board::new(0x20B5_10DE, "A100-PCIE-80GB", Some("NVIDIA A100 80GB PCIe")),
        Board::new(0x20F3_10DE, "A800-SXM4-80GB", Some("NVIDIA A800-SXM4-80GB")),
        Board::new(0x20F5_10DE, "A800-80GB-PCIe", Some("NVIDIA A800 80GB PCIe")),
    ],
    7,
    8,
    80,
    &A100_80GB_PROFILES,
);

/// NVIDIA A30 24GB: 4 compute slices, 4 memory slices.
pub const A30_24GB: GpuModel = GpuModel::new(
    "A30-24GB",
    Architecture::Ampere,
    &[Board::new(0x20B7_10DE, "A30", Some("NVIDIA A30"))],
    4,
    4,
    24,
    &[
        gi!("1g.6gb", Some(14), Slice1, 1, 4, QUARTER_1, [1 => 1])
            .engines(units(1, 1, 0, 0, 0).with_sms(14)),
        gi!("1g.6gb+me", Some(21), Slice1Rev1, 1, 1, QUARTER_1, [1 => 1])
            .engines(units(1, 1, 0, 1, 1).with_sms(14)),
        gi!("2g.12gb", Some(5), Slice2, 2, 2, QUARTER_2, [1 => 2, 2 => 1])
            .engines(units(2, 2, 0, 0, 0).with_sms(28)),
        gi!("2g.12gb+me", Some(6), Slice2Rev1, 2, 1, QUARTER_2, [1 => 2, 2 => 1])
            .engines(units(2, 2, 0, 1, 1).with_sms(28)),
        gi!("4g.24gb", Some(0), Slice4, 4, 1, QUARTER_4, [1 => 4, 2 => 2, 4 => 1])
            .engines(units(4, 4, 0, 1, 1).with_sms(56)),
    ],
);

const H100_SXM_80GB_PROFILES: [GpuInstanceProfile; 7] = measured(
    seven_slice!(
        STANDARD_IDS,
        "1g.10gb",
        "1g.10gb+me",
        "1g.20gb",
        "2g.20gb",
        "3g.40gb",
        "4g.40gb",
        "7g.80gb",
        with_sms(GH100_UNITS, GH100_SXM_SMS)
    ),
    [9984, 9984, 20096, 20096, 40448, 40448, 81152],
);

/// NVIDIA H100 SXM5 80GB (and H800 SXM5 80GB). Read from the real driver: see the module docs.
pub const H100_SXM_80GB: GpuModel = GpuModel::new(
    "H100-SXM-80GB",
    Architecture::Hopper,
    &[
        Board::new(0x2330_10DE, "H100-SXM5-80GB", Some("NVIDIA H100 80GB HBM3")),
        Board::new(0x2324_10DE, "H800-SXM5-80GB", Some("NVIDIA H800")),
    ],
    7,
    8,
    80,
    &H100_SXM_80GB_PROFILES,
)
.measured_memory(81559);

const H100_PCIE_80GB_PROFILES: [GpuInstanceProfile; 7] = seven_slice!(
    STANDARD_IDS,
    "1g.10gb",
    "1g.10gb+me",
    "1g.20gb",
    "2g.20gb",
    "3g.40gb",
    "4g.40gb",
    "7g.80gb",
    GH100_UNITS
);

/// NVIDIA H100 PCIe 80GB (and H800 PCIe 80GB): fewer SMs than the SXM board; SM counts unknown.
pub const H100_PCIE_80GB: GpuModel = GpuModel::new(
    "H100-PCIE-80GB",
    Architecture::Hopper,
    &[
        Board::new(0x2331_10DE, "H100-PCIE-80GB", Some("NVIDIA H100 PCIe")),
        Board::new(0x2322_10DE, "H800-PCIE-80GB", Some("NVIDIA H800 PCIe")),
    ],
    7,
    8,
    80,
    &H100_PCIE_80GB_PROFILES,
);

const H100_NVL_PROFILES: [GpuInstanceProfile; 7] = seven_slice!(
    FIRST_FOUR_IDS,
    "1g.12gb",
    "1g.12gb+me",
    "1g.24gb",
    "2g.24gb",
    "3g.47gb",
    "4g.47gb",
    "7g.94gb",
    gh100_first_four_sms()
);

/// NVIDIA H100 NVL 94GB (and H800 NVL).
pub const H100_NVL_94GB: GpuModel = GpuModel::new(
    "H100-NVL-94GB",
    Architecture::Hopper,
    &[
        Board::new(0x2321_10DE, "H100-NVL", Some("NVIDIA H100 NVL")),
        Board::new(0x233A_10DE, "H800-NVL", None),
    ],
    7,
    8,
    94,
    &H100_NVL_PROFILES,
);

const GH100_96GB_PROFILES: [GpuInstanceProfile; 7] = seven_slice!(
    NO_IDS,
    "1g.12gb",
    "1g.12gb+me",
    "1g.24gb",
    "2g.24gb",
    "3g.48gb",
    "4g.48gb",
    "7g.96gb",
    GH100_UNITS
);

/// NVIDIA H100 96GB (and PG506-96GB).
pub const H100_96GB: GpuModel = GpuModel::new(
    "H100-96GB",
    Architecture::Hopper,
    &[
        Board::new(0x233D_10DE, "H100-96GB", None),
        Board::new(0x20B6_10DE, "PG506-96GB", None),
    ],
    7,
    8,
    96,
    &GH100_96GB_PROFILES,
);

/// NVIDIA GH200 with 96GB HBM3.
pub const GH200_96GB: GpuModel = GpuModel::new(
    "GH200-96GB",
    Architecture::Hopper,
    &[Board::new(0x2342_10DE, "GH200-96GB", None)],
    7,
    8,
    96,
    &GH100_96GB_PROFILES,
);

/// NVIDIA H20 96GB.
pub const H20_96GB: GpuModel = GpuModel::new(
    "H20-96GB",
    Architecture::Hopper,
    &[Board::new(0x2329_10DE, "H20", Some("NVIDIA H20"))],
    7,
    8,
    96,
    &GH100_96GB_PROFILES,
);

const GH200_144GB_PROFILES: [GpuInstanceProfile; 7] = seven_slice!(
    FIRST_FOUR_IDS,
    "1g.18gb",
    "1g.18gb+me",
    "1g.36gb",
    "2g.36gb",
    "3g.72gb",
    "4g.72gb",
    "7g.144gb",
    gh100_first_four_sms()
);

/// NVIDIA GH200 with 144GB HBM3e.
pub const GH200_144GB: GpuModel = GpuModel::new(
    "GH200-144GB",
    Architecture::Hopper,
    &[Board::new(0x2348_10DE, "GH200-144GB-HBM3e", None)],
    7,
    8,
    144,
    &GH200_144GB_PROFILES,
);

const H200_141GB_PROFILES: [GpuInstanceProfile; 7] = measured(
    seven_slice!(
        STANDARD_IDS,
        "1g.18gb",
        "1g.18gb+me",
        "1g.35gb",
        "2g.35gb",
        "3g.71gb",
        "4g.71gb",
        "7g.141gb",
        with_sms(GH100_UNITS, GH100_SXM_SMS)
    ),
    [16384, 16384, 33280, 33280, 71424, 71424, 143360],
);

/// NVIDIA H200 SXM 141GB. Read from the real driver: see the module docs.
pub const H200_141GB: GpuModel = GpuModel::new(
    "H200-141GB",
    Architecture::Hopper,
    &[Board::new(
        0x2335_10DE,
        "H200-SXM-141GB",
        Some("NVIDIA H200"),
    )],
    7,
    8,
    141,
    &H200_141GB_PROFILES,
)
.measured_memory(143771);

const H200_NVL_PROFILES: [GpuInstanceProfile; 7] = seven_slice!(
    NO_IDS,
    "1g.18gb",
    "1g.18gb+me",
    "1g.35gb",
    "2g.35gb",
    "3g.71gb",
    "4g.71gb",
    "7g.141gb",
    GH100_UNITS
);

/// NVIDIA H200 NVL 141GB.
pub const H200_NVL_141GB: GpuModel = GpuModel::new(
    "H200-NVL-141GB",
    Architecture::Hopper,
    &[Board::new(0x233B_10DE, "H200-NVL", Some("NVIDIA H200 NVL"))],
    7,
    8,
    141,
    &H200_NVL_PROFILES,
);

/// B200 and GB200 IDs: the first four from published `-lgip` output (NVIDIA/mig-parted#187,
/// #227); `3g` = 9, `4g` = 5, `7g` = 0 from the profile-ID table of Google's GKE partitioner
/// (GoogleCloudPlatform/container-engine-accelerators, `partition_gpu/partition_gpu.go`, the
/// `nvidia-b200` and `nvidia-gb200` rows): the same IDs as on every other 7-slice board.
const B200_PROFILES: [GpuInstanceProfile; 7] = seven_slice!(
    STANDARD_IDS,
    "1g.23gb",
    "1g.23gb+me",
    "1g.45gb",
    "2g.45gb",
    "3g.90gb",
    "4g.90gb",
    "7g.180gb",
    B200_ENGINES
);

/// NVIDIA B200 180GB.
pub const B200_180GB: GpuModel = GpuModel::new(
    "B200-180GB",
    Architecture::Blackwell,
    &[Board::new(0x2901_10DE, "B200", Some("NVIDIA B200"))],
    7,
    8,
    180,
    &B200_PROFILES,
);

const GB200_PROFILES: [GpuInstanceProfile; 7] = seven_slice!(
    STANDARD_IDS,
    "1g.23gb",
    "1g.23gb+me",
    "1g.47gb",
    "2g.47gb",
    "3g.93gb",
    "4g.93gb",
    "7g.186gb",
    GB200_ENGINES
);

/// NVIDIA GB200 186GB.
pub const GB200_186GB: GpuModel = GpuModel::new(
    "GB200-186GB",
    Architecture::Blackwell,
    &[Board::new(0x2941_10DE, "GB200", Some("NVIDIA GB200"))],
    7,
    8,
    186,
    &GB200_PROFILES,
);

const B300_PROFILES: [GpuInstanceProfile; 7] = seven_slice!(
    NO_IDS,
    "1g.34gb",
    "1g.34gb+me",
    "1g.67gb",
    "2g.67gb",
    "3g.135gb",
    "4g.135gb",
    "7g.269gb",
    UNKNOWN7
);

/// NVIDIA B300 269GB.
pub const B300_269GB: GpuModel = GpuModel::new(
    "B300-269GB",
    Architecture::Blackwell,
    &[Board::new(0x3182_10DE, "B300", None)],
    7,
    8,
    269,
    &B300_PROFILES,
);

const GB300_PROFILES: [GpuInstanceProfile; 7] = seven_slice!(
    NO_IDS,
    "1g.35gb",
    "1g.35gb+me",
    "1g.70gb",
    "2g.70gb",
    "3g.139gb",
    "4g.139gb",
    "7g.278gb",
    UNKNOWN7
);

/// NVIDIA GB300 278GB.
pub const GB300_278GB: GpuModel = GpuModel::new(
    "GB300-278GB",
    Architecture::Blackwell,
    &[Board::new(0x31C2_10DE, "GB300", None)],
    7,
    8,
    278,
    &GB300_PROFILES,
);

/// NVIDIA RTX PRO 6000 Blackwell 96GB: 4 compute slices, 4 memory slices, graphics (`+gfx`)
/// and media (`+me`, `+me.all`, `-me`) variants. Profile IDs, SMs and engines of `1g.24gb`
/// (14), `1g.24gb+me` (21: one instance, with the OFA), `1g.24gb+gfx` (47), `1g.24gb+me.all`
/// (65: every decoder, encoder and JPEG engine) and the ID of `1g.24gb-me` (67) from the
/// driver's `-lgip` output published in
/// bigstack-oss/cubecos#312 and GoogleCloudPlatform/container-engine-accelerators#564; the IDs
/// of `2g.48gb` (5) and `4g.96gb` (0) from that repository's `partition_gpu/partition_gpu.go`.
/// The other profiles' IDs are unknown (`None`).
pub const RTX_PRO_6000_BLACKWELL: GpuModel = GpuModel::new(
    "RTX-PRO-6000-96GB",
    Architecture::Blackwell,
    &[Board::new(
        0x2BB5_10DE,
        "RTX-PRO-6000-Blackwell-Server",
        Some("NVIDIA RTX PRO 6000 Blackwell Server Edition"),
    )],
    4,
    4,
    96,
    &[
        gi!("1g.24gb", Some(14), Slice1, 1, 4, QUARTER_1, [1 => 1])
            .engines(units(1, 1, 1, 1, 0).with_sms(46)),
        gi!("1g.24gb+me", Some(21), Slice1Rev1, 1, 1, QUARTER_1, [1 => 1])
            .engines(units(1, 1, 1, 1, 1).with_sms(46)),
        gi!("1g.24gb+me.all", Some(65), Slice1AllMe, 1, 1, QUARTER_1, [1 => 1])
            .engines(units(1, 4, 4, 4, 1).with_sms(46)),
        gi!("1g.24gb+gfx", Some(47), Slice1Gfx, 1, 4, QUARTER_1, [1 => 1])
            .engines(units(1, 1, 1, 1, 0).with_sms(46)),
        gi!("1g.24gb-me", Some(67), Slice1NoMe, 1, 4, QUARTER_1, [1 => 1]),
        gi!("2g.48gb", Some(5), Slice2, 2, 2, QUARTER_2, [1 => 2, 2 => 1]),
        gi!("2g.48gb+me.all", None, Slice2AllMe, 2, 1, QUARTER_2, [1 => 2, 2 => 1]),
        gi!("2g.48gb+gfx", None, Slice2Gfx, 2, 2, QUARTER_2, [1 => 2, 2 => 1]),
        gi!("2g.48gb-me", None, Slice2NoMe, 2, 2, QUARTER_2, [1 => 2, 2 => 1]),
        gi!("4g.96gb", Some(0), Slice4, 4, 1, QUARTER_4, [1 => 4, 2 => 2, 4 => 1]),
        gi!("4g.96gb+gfx", None, Slice4Gfx, 4, 1, QUARTER_4, [1 => 4, 2 => 2, 4 => 1]),
    ],
);

/// Every model in the catalog.
pub static MODELS: [&GpuModel; 17] = [
    &A100_40GB,
    &A100_80GB,
    &A30_24GB,
    &H100_SXM_80GB,
    &H100_PCIE_80GB,
    &H100_NVL_94GB,
    &H100_96GB,
    &GH200_96GB,
    &GH200_144GB,
    &H20_96GB,
    &H200_141GB,
    &H200_NVL_141GB,
    &B200_180GB,
    &GB200_186GB,
    &B300_269GB,
    &GB300_278GB,
    &RTX_PRO_6000_BLACKWELL,
];

// Every model is checked when the crate compiles: a wrong entry fails `cargo build`.
const _: () = {
    let mut i = 0;
    while i < MODELS.len() {
        MODELS[i].assert_valid();
        i += 1;
    }
    // A PCI device ID belongs to one model only.
    let mut a = 0;
    while a < MODELS.len() {
        let mut b = 0;
        while b < MODELS[a].boards.len() {
            let id = MODELS[a].boards[b].pci_device_id.combined();
            let mut c = a;
            while c < MODELS.len() {
                let mut d = if c == a { b + 1 } else { 0 };
                while d < MODELS[c].boards.len() {
                    if MODELS[c].boards[d].pci_device_id.combined() == id {
                        panic!("a PCI device ID is listed twice in the catalog");
                    }
                    d += 1;
                }
                c += 1;
            }
            b += 1;
        }
        a += 1;
    }
};

/// Every model in the catalog.
#[must_use]
pub fn models() -> &'static [&'static GpuModel] {
    &MODELS
}

/// The model with this catalog name (`A100-40GB`; ASCII case ignored).
///
/// # Errors
/// [`Error::UnknownModel`] naming the input.
pub fn model_by_name(name: &str) -> Result<&'static GpuModel, Error> {
    MODELS
        .iter()
        .copied()
        .find(|m| m.name.eq_ignore_ascii_case(name.trim()))
        .ok_or_else(|| Error::UnknownModel {
            name: crate::text::cut(name),
        })
}

/// The model of a board found at run time by its PCI device ID (`0x20B010DE`), and its
/// subsystem ID where the caller has it (boards the catalog tells apart by subsystem need it).
///
/// # Errors
/// [`Error::UnknownPciDeviceId`] naming the ID.
pub fn model_by_pci_device_id(
    pci_device_id: u32,
    pci_subsystem_id: Option<u32>,
) -> Result<&'static GpuModel, Error> {
    let wanted = PciDeviceId::from_combined(pci_device_id);
    let mut fallback = None;
    for m in MODELS.iter().copied() {
        for b in m.boards {
            if b.pci_device_id != wanted {
                continue;
            }
            match (b.pci_subsystem_id, pci_subsystem_id) {
                (Some(want), Some(have)) if want.combined() == have => return Ok(m),
                (Some(_), _) => {}
                (None, _) => fallback = Some(m),
            }
        }
    }
    fallback.ok_or(Error::UnknownPciDeviceId { id: wanted })
}

/// The model of a board by the name NVML reports (`NVIDIA A100-SXM4-40GB`); leading and
/// trailing space and ASCII case are ignored.
///
/// # Errors
/// [`Error::UnknownNvmlName`] naming the input.
pub fn model_by_nvml_name(name: &str) -> Result<&'static GpuModel, Error> {
    let wanted = name.trim();
    MODELS
        .iter()
        .copied()
        .find(|m| {
            m.boards
                .iter()
                .any(|b| b.nvml_name.is_some_and(|n| n.eq_ignore_ascii_case(wanted)))
        })
        .ok_or_else(|| Error::UnknownNvmlName {
            name: crate::text::cut(name),
        })
}
