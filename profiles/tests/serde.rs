//! With the `serde` feature, names and IDs round-trip as NVIDIA writes them, and the catalog
//! serializes (for export; catalog entries are `'static` data and are not deserialized).
#![cfg(feature = "serde")]
#![allow(clippy::expect_used, clippy::unwrap_used)]

use gpupart_profiles::{
    Attributes, NvmlGiProfileIndex, PciDeviceId, Placement, ProfileName, catalog,
};

#[test]
fn names_and_ids_round_trip_as_strings() {
    let n: ProfileName = "1g.10gb+me.all".parse().unwrap();
    let json = serde_json::to_string(&n).unwrap();
    assert_eq!(json, "\"1g.10gb+me.all\"");
    assert_eq!(serde_json::from_str::<ProfileName>(&json).unwrap(), n);
    let bad = serde_json::from_str::<ProfileName>("\"1g.10\"").unwrap_err();
    assert!(bad.to_string().contains("1g.10"), "{bad}");

    let id: PciDeviceId = "0x20B010DE".parse().unwrap();
    assert_eq!(serde_json::to_string(&id).unwrap(), "\"0x20B010DE\"");
    assert_eq!(
        serde_json::from_str::<PciDeviceId>("\"0x20B010DE\"").unwrap(),
        id
    );

    let p = Placement::new(4, 4);
    assert_eq!(
        serde_json::from_str::<Placement>(&serde_json::to_string(&p).unwrap()).unwrap(),
        p
    );
    let idx = NvmlGiProfileIndex::Slice1Rev2;
    assert_eq!(
        serde_json::from_str::<NvmlGiProfileIndex>(&serde_json::to_string(&idx).unwrap()).unwrap(),
        idx
    );
    let a = Attributes::ME | Attributes::GFX;
    assert_eq!(
        serde_json::from_str::<Attributes>(&serde_json::to_string(&a).unwrap()).unwrap(),
        a
    );
}

#[test]
fn the_catalog_serializes() {
    let json = serde_json::to_value(catalog::models()).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 17);
    assert_eq!(json[0]["profiles"][0]["name"], "1g.5gb");
    assert_eq!(json[0]["boards"][0]["pci_device_id"], "0x20B010DE");
}
