// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "garagetytus",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "garagetytus", targets: ["garagetytus"]),
        .executable(name: "artifacts", targets: ["artifacts"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        // C: process spawning with a parent-death signal (prctl is variadic).
        .target(name: "CGaragetytus", path: "Sources/CGaragetytus"),
        // C: libcurl and one-line wrappers for its variadic setopt/getinfo.
        .systemLibrary(name: "CCurl", path: "Sources/CCurl", pkgConfig: "libcurl",
                       providers: [.apt(["libcurl4-openssl-dev"])]),
        .target(name: "CCurlShim", dependencies: ["CCurl"], path: "Sources/CCurlShim"),
        // C: libfuse3 low-level API, and wrappers for its macros and versioned symbols.
        .systemLibrary(name: "CFuse3", path: "Sources/CFuse3", pkgConfig: "fuse3", providers: [.apt(["libfuse3-dev"])]),
        .target(name: "CFuseShim", dependencies: ["CFuse3"], path: "Sources/CFuseShim"),

        // Layer 1: protocols and shared pieces.
        .target(name: "S3", dependencies: [
            "CCurl", "CCurlShim",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // Files that hold secrets: atomic, private writes; how a key is masked.
        .target(name: "Credentials", dependencies: []),
        // The filesystem core: talks to an ObjectStore, never to libfuse or curl directly.
        .target(name: "Mount", dependencies: ["S3", "CFuse3", "CFuseShim", "CGaragetytus", .product(name: "GRDB", package: "GRDB.swift"),
                                              .product(name: "Crypto", package: "swift-crypto")]),

        // Layer 2: the daemon.
        .target(name: "Daemon", dependencies: [
            "S3", "Credentials", "CGaragetytus",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "Mustache", package: "swift-mustache"),
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Crypto", package: "swift-crypto"),
            // The gateway forwards to the engine with streaming bodies both ways on the same event loops.
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "DequeModule", package: "swift-collections"),
            .product(name: "TOMLKit", package: "TOMLKit"),
        ]),

        // Layer 3: the workspace layer — workspaces, credential caching and following, the mount
        // registry, service tokens, rotation, and the assembly of a live mount. A client of the daemon.
        .target(name: "Workspaces", dependencies: [
            "Daemon", "Mount", "S3", "Credentials", "CGaragetytus",
            .product(name: "Logging", package: "swift-log"),
        ]),

        // Layer 4: the command line (one module, two executables): parses, calls a library, renders.
        .target(name: "CLI", dependencies: [
            "Workspaces", "Daemon", "S3", "Credentials", "Mount", "CGaragetytus",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "garagetytus", dependencies: ["CLI", .product(name: "ArgumentParser", package: "swift-argument-parser")], path: "Sources/Executables/garagetytus"),
        .executableTarget(name: "artifacts", dependencies: ["CLI", .product(name: "ArgumentParser", package: "swift-argument-parser")], path: "Sources/Executables/artifacts"),

        .target(name: "TestSupport", dependencies: ["Daemon", "S3", "Credentials", "Mount"]),
        .testTarget(name: "UnitTests", dependencies: ["Daemon", "S3", "Credentials", "Mount", "Workspaces", "CLI", "TestSupport"]),
        .testTarget(name: "IntegrationTests", dependencies: ["Daemon", "S3", "Credentials", "Mount", "Workspaces", "TestSupport"]),
    ]
)
