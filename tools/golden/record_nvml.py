#!/usr/bin/env python3
"""Record, read-only, what NVML reports about MIG GPU instance profiles.

Run on a GPU host (MIG mode may stay disabled): it only calls NVML query
functions (no mode change, no instance creation). Prints JSON on stdout.
Used to record the golden data under profiles/golden/; the Rust code never
runs it. Requires NVIDIA's official Python binding (nvidia-ml-py / pynvml).
"""
import ctypes
import json
import sys

import pynvml as N


def text(v):
    return v.decode() if isinstance(v, bytes) else v


def struct_to_dict(s):
    out = {}
    for name, _ in s._fields_:
        v = getattr(s, name)
        if isinstance(v, bytes):
            v = v.decode(errors="replace")
        elif not isinstance(v, (int, float, str)):
            v = str(v)
        out[name] = v
    return out


def placements(h, pid):
    # Two calls, as NVML documents: the first with a null array returns the
    # count, the second fills an array of that many entries.
    count = ctypes.c_uint(0)
    N.nvmlDeviceGetGpuInstancePossiblePlacements(h, pid, None, ctypes.byref(count))
    arr = (N.c_nvmlGpuInstancePlacement_t * max(count.value, 1))()
    N.nvmlDeviceGetGpuInstancePossiblePlacements(h, pid, arr, ctypes.byref(count))
    return [[arr[k].start, arr[k].size] for k in range(count.value)]


def main():
    N.nvmlInit()
    out = {
        "driver_version": text(N.nvmlSystemGetDriverVersion()),
        "nvml_version": text(N.nvmlSystemGetNVMLVersion()),
        "pynvml": getattr(N, "__version__", None),
        "devices": [],
    }
    for i in range(N.nvmlDeviceGetCount()):
        h = N.nvmlDeviceGetHandleByIndex(i)
        pci = N.nvmlDeviceGetPciInfo(h)
        dev = {
            "index": i,
            "name": text(N.nvmlDeviceGetName(h)),
            "uuid": text(N.nvmlDeviceGetUUID(h)),
            "pci_bus_id": text(pci.busId),
            "pci_device_id": "0x%08X" % pci.pciDeviceId,
            "pci_subsystem_id": "0x%08X" % pci.pciSubSystemId,
            "memory_total_bytes": N.nvmlDeviceGetMemoryInfo(h).total,
            "profiles": [],
            "errors": [],
        }
        try:
            cur, pend = N.nvmlDeviceGetMigMode(h)
            dev["mig_mode"] = {"current": cur, "pending": pend}
        except N.NVMLError as e:
            dev["errors"].append("nvmlDeviceGetMigMode: %s" % e)
        try:
            dev["max_mig_devices"] = N.nvmlDeviceGetMaxMigDeviceCount(h)
        except N.NVMLError as e:
            dev["errors"].append("nvmlDeviceGetMaxMigDeviceCount: %s" % e)
        for p in range(N.NVML_GPU_INSTANCE_PROFILE_COUNT):
            entry = {"profile_index": p}
            try:
                info = N.nvmlDeviceGetGpuInstanceProfileInfoV(h, p)
                entry["info_v"] = struct_to_dict(info)
            except Exception as e:  # noqa: BLE001 - record every failure
                entry["info_v_error"] = str(e)
            try:
                info1 = N.nvmlDeviceGetGpuInstanceProfileInfo(h, p)
                entry["info"] = struct_to_dict(info1)
            except Exception as e:  # noqa: BLE001
                entry["info_error"] = str(e)
            pid = (entry.get("info_v") or entry.get("info") or {}).get("id")
            if pid is not None:
                try:
                    entry["placements"] = placements(h, pid)
                except Exception as e:  # noqa: BLE001
                    entry["placements_error"] = str(e)
                try:
                    entry["remaining_capacity"] = N.nvmlDeviceGetGpuInstanceRemainingCapacity(h, pid)
                except Exception as e:  # noqa: BLE001
                    entry["remaining_capacity_error"] = str(e)
            dev["profiles"].append(entry)
        out["devices"].append(dev)
    N.nvmlShutdown()
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
