// swift-tools-version: 6.2
import PackageDescription

// Layers, each with one job (see ../shared/STYLE.md):
//   CJansson, CSQLite  system libraries plus tiny C shims for what Swift cannot import
//   COwd               the public header include/owd.h (+ per-thread error storage)
//   OwdCore            the model, the rules of behaviour.md, the store
//   Owd                the C ABI: one @c @implementation per header function
let package = Package(
    name: "owd",
    products: [
        .library(name: "owd", type: .dynamic, targets: ["Owd"]),
    ],
    targets: [
        .target(name: "CJansson", linkerSettings: [.linkedLibrary("jansson")]),
        .target(name: "CSQLite", linkerSettings: [.linkedLibrary("sqlite3")]),
        .target(name: "COwd", dependencies: ["CJansson"]),
        .target(name: "OwdCore", dependencies: ["CJansson", "CSQLite"]),
        .target(name: "Owd", dependencies: ["OwdCore", "COwd", "CJansson"]),
        .testTarget(name: "OwdCoreTests", dependencies: ["OwdCore", "CJansson"]),
    ],
    swiftLanguageModes: [.v5]
)
