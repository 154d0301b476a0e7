// swift-tools-version:6.1
// Benchmarks live in their own package so that `swift test` in the project never builds them.
import PackageDescription

let package = Package(
    name: "NocturneBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "nocturne", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "HotPath",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "NocturneKit", package: "nocturne"),
            ],
            path: "Benchmarks/HotPath",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "TokenStep",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "NocturneSLM", package: "nocturne"),
            ],
            path: "Benchmarks/TokenStep",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "BottleneckWindow",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "NocturneKit", package: "nocturne"),
            ],
            path: "Benchmarks/BottleneckWindow",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
