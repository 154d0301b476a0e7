// swift-tools-version:6.1
import PackageDescription

/// The per-packet path (capture → decode → windows) runs without dynamic exclusivity checks:
/// its state lives in classes that one thread owns, and the checks cost more than the work.
let hotPath: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"])]

/// The language model's kernels want AVX2, FMA and F16C (half-precision loads in hardware, not
/// a library call per weight): every x86 server CPU since 2013 has them.
#if arch(x86_64)
let slmCPU = ["-target-cpu", "haswell"]
let slmKernelFlags = ["-O3", "-mavx2", "-mfma", "-mf16c"]
#else
let slmCPU: [String] = []
let slmKernelFlags = ["-O3"]
#endif

let package = Package(
    name: "nocturne",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "nocturne", targets: ["nocturne"]),
        .library(name: "NocturneKit", targets: ["Capture", "Decode", "Telemetry", "Windows", "Detect", "Sinks", "Pipeline"]),
        .library(name: "NocturneSLM", targets: ["SLM"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.0"),
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.0"),
    ],
    targets: [
        // libpcap from Debian's libpcap-dev.
        .systemLibrary(
            name: "CPcap",
            providers: [.apt(["libpcap-dev"])]
        ),
        // zlib from Debian's zlib1g-dev, for gzip-compressed PM files.
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        // RAN telemetry readers: PM XML, srsRAN metrics JSON, OAI MAC statistics, KPI tables.
        .target(name: "Telemetry", dependencies: ["CZlib", .product(name: "Yams", package: "Yams")]),
        // The scenario simulator: labelled cells, counters and telemetry in the real formats.
        .target(name: "Simulate", dependencies: ["Telemetry", "Windows", .product(name: "Yams", package: "Yams")]),
        // Reads capture files and live interfaces; hands each record over in place.
        .target(name: "Capture", dependencies: ["CPcap", "Decode"], swiftSettings: hotPath),
        // Zero-copy protocol decoders and the PFCP session table. No dependencies.
        .target(name: "Decode", swiftSettings: hotPath),
        // Per-window aggregation of decoded packets.
        // Tiny C helpers for what Swift cannot say (a cache prefetch).
        .target(name: "CNocturneShims"),
        .target(name: "Windows", dependencies: ["Decode", "Telemetry", "CNocturneShims"], swiftSettings: hotPath),
        // The Detector interface, findings and the rules.
        .target(name: "Detect", dependencies: ["Windows", "Telemetry", "Tensor"]),
        // Where rows and findings go: JSONL, Markdown report, SQLite.
        .target(name: "Sinks", dependencies: [
            "Windows", "Detect",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "GRDBSQLite", package: "GRDB.swift"),
        ]),
        // Jobs: sources → decode → windows → detect → sinks.
        .target(name: "Pipeline", dependencies: [
            "Capture", "Decode", "Telemetry", "Windows", "Detect", "Sinks",
            .product(name: "Yams", package: "Yams"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: hotPath),
        // The language model's integer block dot products and its thread pool, in C for the
        // CPU's vector instructions; optimised even in debug builds, where tests run models.
        .target(name: "CSLMKernels", cSettings: [.unsafeFlags(slmKernelFlags)]),
        // The in-process language model: GGUF files, quantised kernels, tokenizers, generation.
        // No dependencies beyond its kernels: a model is data plus a few plain kernels.
        // GGUF files and the float kernels, shared by the learned detector and the language model.
        .target(name: "Tensor", swiftSettings: [.unsafeFlags(["-Ounchecked", "-enforce-exclusivity=unchecked"] + slmCPU)]),
        .target(name: "SLM", dependencies: ["CSLMKernels", "Tensor"], swiftSettings: [.unsafeFlags(["-Ounchecked", "-enforce-exclusivity=unchecked"] + slmCPU)]),
        // Event-level scoring of findings against labelled episodes.
        .target(name: "Evaluate", dependencies: ["Telemetry"]),
        .executableTarget(name: "nocturne", dependencies: [
            "Pipeline", "Detect", "Telemetry", "Simulate", "SLM", "Evaluate",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "DecodeTests", dependencies: [
            "Decode",
            .product(name: "PropertyBased", package: "swift-property-based"),
        ]),
        .testTarget(name: "TelemetryTests", dependencies: [
            "Telemetry", "Windows", "Detect",
            .product(name: "PropertyBased", package: "swift-property-based"),
        ]),
        .testTarget(name: "SimulateTests", dependencies: ["Simulate", "Telemetry"]),
        .testTarget(name: "SLMTests", dependencies: [
            "SLM", "Tensor",
            .product(name: "PropertyBased", package: "swift-property-based"),
        ]),
        .testTarget(name: "PipelineTests", dependencies: [
            "Pipeline", "Capture", "Decode", "Windows", "Detect", "Sinks", "Evaluate", "Telemetry",
            .product(name: "PropertyBased", package: "swift-property-based"),
        ], resources: []),
    ],
    swiftLanguageModes: [.v6]
)
