// swift-tools-version: 6.2
import PackageDescription

// Layers, each with one job (see ../shared/STYLE.md):
//   CJansson, CSQLite  system libraries plus tiny C shims for what Swift cannot import
//   CPQ                libpq's few functions, loaded with dlopen (libowd.so does not link libpq)
//   COwd               the public header include/owd.h (+ per-thread error storage)
//   OwdCore            the model, the rules of behaviour.md, the store
//   Owd                the C ABI: one @c @implementation per header function
//   COwdHTTP, COwdCrypto, COwdModel   libmicrohttpd, libcrypto (SHA-256, HMAC) and the
//                      embedded OpsWorks model: the owd program's only (libowd.so links none)
//   OwdServer          `owd serve`'s endpoint (section 13): SigV4, routing, error mapping
//   COwdAgent, OwdAgent  `owd agent` (section 14): libcurl, starting hooks; the agent's loop
//   OwdProgram         the `owd` executable (product owd-program; the Makefile names it owd)
// The C files in libowd.so: DWARF 4 debug information. Valgrind 3.19 (Debian 12, make
// test-c's memcheck) gives up on a library with two DWARF 5 compile units of this clang
// ("Possibly corrupted debuginfo file"), which COwd and CPQ made once both were in.
let libowdC: [CSetting] = [.unsafeFlags(["-gdwarf-4"])]

let package = Package(
    name: "owd",
    products: [
        .library(name: "owd", type: .dynamic, targets: ["Owd"]),
        // Not named owd: SwiftPM builds no executable that shares the library's name.
        .executable(name: "owd-program", targets: ["OwdProgram"]),
        .executable(name: "owd-serve-fuzz", targets: ["OwdServeFuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .target(name: "CJansson", cSettings: libowdC, linkerSettings: [.linkedLibrary("jansson")]),
        .target(name: "CSQLite", cSettings: libowdC, linkerSettings: [.linkedLibrary("sqlite3")]),
        // libpq, declared here and loaded with dlopen on first use of a postgresql:// store.
        .target(name: "CPQ", cSettings: libowdC),
        .target(name: "COwd", dependencies: ["CJansson"], cSettings: libowdC),
        .target(name: "OwdCore", dependencies: ["CJansson", "CSQLite", "CPQ"]),
        .target(name: "Owd", dependencies: ["OwdCore", "COwd", "CJansson"]),
        .target(name: "COwdHTTP", linkerSettings: [.linkedLibrary("microhttpd")]),
        .target(name: "COwdCrypto", linkerSettings: [.linkedLibrary("crypto")]),
        // files.S .incbin's the model by paths from the repository root.
        .target(name: "COwdModel", cSettings: [.unsafeFlags(["-I", Context.packageDirectory])]),
        .target(name: "OwdServer", dependencies: ["OwdCore", "CJansson", "COwdHTTP", "COwdCrypto", "COwdModel"]),
        .target(name: "COwdAgent", linkerSettings: [.linkedLibrary("curl")]),
        .target(name: "OwdAgent", dependencies: ["OwdServer", "OwdCore", "CJansson", "COwdAgent"]),
        .executableTarget(name: "OwdProgram", dependencies: [
            "OwdAgent", "OwdServer", "OwdCore", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // libFuzzer's driver with -DOWD_FUZZ (make fuzz-serve); a replayer of inputs otherwise.
        .executableTarget(name: "OwdServeFuzz", dependencies: ["OwdServer", "OwdCore", "CJansson"]),
        .testTarget(name: "OwdCoreTests", dependencies: ["OwdCore", "CJansson"], exclude: ["Fixtures"]),
        .testTarget(name: "OwdServerTests", dependencies: ["OwdServer", "OwdCore", "CJansson"], exclude: ["Fixtures"]),
        .testTarget(name: "OwdAgentTests", dependencies: ["OwdAgent", "OwdServer", "OwdCore"]),
    ],
    swiftLanguageModes: [.v5]
)
