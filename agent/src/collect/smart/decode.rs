//! Drive values that the text and the JSON parser decode the same way: the power-on hours from
//! ATA attribute 9 (whatever unit the drive counts in), raw attribute values, and the NVMe
//! critical warning byte. Pure; both parsers import it, so neither imports the other.

use unity_shared::model::storage::{AtaAttribute, NvmeCriticalWarning};

/// The power-on hours from attribute 9, whatever unit the drive counts in.
pub fn ata_power_on_hours(attributes: &[AtaAttribute]) -> Option<u64> {
    let attribute = attributes.iter().find(|a| a.id == 9)?;
    let value = attribute.raw.value?;
    let name = attribute.name.as_str();
    Some(if name.contains("Half_Min") {
        value / 120
    } else if name.contains("Minutes") {
        value / 60
    } else if name.contains("Seconds") {
        value / 3600
    } else {
        value
    })
}

/// The leading number of an attribute's raw value.
pub fn attribute_value(attributes: &[AtaAttribute], id: u8) -> Option<u64> {
    attributes
        .iter()
        .find(|a| a.id == id)
        .and_then(|a| a.raw.value)
}

/// Decodes the NVMe critical warning byte.
pub fn nvme_warning_bits(bits: u8) -> NvmeCriticalWarning {
    NvmeCriticalWarning {
        spare_below_threshold: bits & 0x01 != 0,
        temperature: bits & 0x02 != 0,
        reliability_degraded: bits & 0x04 != 0,
        media_read_only: bits & 0x08 != 0,
        volatile_memory_backup_failed: bits & 0x10 != 0,
        persistent_memory_region_unreliable: bits & 0x20 != 0,
    }
}
