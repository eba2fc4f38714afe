import Foundation
@testable import OwdCore
import Testing

/// Deletions reach every cache through the change sequence (tombstones). A second `Store`
/// opened on the same file has its own engine: its own SQLite connections and its own
/// cache, refreshed only by what the file's change sequence carries, exactly as in
/// another process. These tests delete through the one internal primitive (`Engine.remove`)
/// that DeleteStack and DeleteApp call (ControlPlaneTests checks those operations end to end).
@Suite("Deletions reach every handle and process (tombstones)")
struct TombstoneTests {
    static let alice = "arn:aws:iam::123456789012:user/alice"

    /// Two "processes" on one file, a stack with an app, an online instance and a deployment,
    /// each already read by the second process (so that its cache holds them).
    struct World {
        let a: Fixture, b: Fixture
        let stack: String, app: String, deployment: String, path: String
    }

    static func world() throws -> World {
        let path = sharedStorePath()
        let a = try Fixture(path: path)
        let b = try Fixture(path: path)
        let stack = try a.stack()
        let layer = try a.layer(stack)
        let app = try a.app(stack)
        _ = try a.instance(stack, layers: [layer])
        let d = try a.deploy(stack, app: app)
        #expect(try b.deployments(["StackId": stack]).map { $0["DeploymentId"] as! String } == [d])
        #expect(try b.deployments(["AppId": app]).count == 1)
        return World(a: a, b: b, stack: stack, app: app, deployment: d, path: path)
    }

    @Test("Another process stops seeing a removed deployment on its next call")
    func deploymentForgotten() throws {
        let w = try Self.world()
        let other = try w.a.deploy(w.stack, app: w.app)
        #expect(try w.b.deployments(["DeploymentIds": [w.deployment, other]]).count == 2)
        try w.a.store.remove(.deployment, id: w.deployment)
        // The other process, on its very next call, by every way of asking.
        w.b.expectError("DescribeDeployments", ["DeploymentIds": [w.deployment]], "ResourceNotFoundException",
                        "Unable to find deployment with ID \(w.deployment)")
        #expect(try w.b.deployments(["StackId": w.stack]).map { $0["DeploymentId"] as! String } == [other])
        #expect(try w.b.deployments(["AppId": w.app]).map { $0["DeploymentId"] as! String } == [other])
        #expect(try w.b.deployments().map { $0["DeploymentId"] as! String } == [other])
        #expect(try w.b.store.describeDeployments(stackID: w.stack, appID: nil, deploymentIDs: nil).map(\.idString) == [other])
        // And every handle of the process that deleted it.
        #expect(try w.a.as(nil).deployments(["StackId": w.stack]).map { $0["DeploymentId"] as! String } == [other])
        // Its commands went with it.
        #expect(try w.b.commands([:]).allSatisfy { $0["DeploymentId"] as? String == other })
    }

    @Test("Another process stops seeing a removed app and a removed stack on its next call")
    func appAndStackForgotten() throws {
        let w = try Self.world()
        try w.a.store.remove(.app, id: w.app)
        w.b.expectError("DescribeDeployments", ["AppId": w.app], "ResourceNotFoundException",
                        "Unable to find app with ID \(w.app)")
        try w.a.store.remove(.stack, id: w.stack)
        w.b.expectError("DescribeDeployments", ["StackId": w.stack], "ResourceNotFoundException",
                        "Unable to find stack with ID \(w.stack)")
        w.b.expectError("DescribeStacks", ["StackIds": [w.stack]], "ResourceNotFoundException")
    }

    @Test("A removed permission stops letting its user read, in another process, on its next call")
    func permissionForgotten() throws {
        let w = try Self.world()
        try w.a.call("CreateUserProfile", ["IamUserArn": Self.alice])
        try w.a.call("SetPermission", ["StackId": w.stack, "IamUserArn": Self.alice, "Level": "show"])
        let alice = w.b.as(Self.alice)
        #expect(try alice.deployments(["StackId": w.stack]).count == 1)
        try w.a.store.remove(.permission, id: w.stack, iamUserArn: Self.alice)
        #expect(alice.error("DescribeDeployments", ["StackId": w.stack])?.type == "AccessDeniedException")
        #expect(try alice.deployments().isEmpty)
        // A permission set again after its removal counts again (the tombstone is older).
        try w.a.call("SetPermission", ["StackId": w.stack, "IamUserArn": Self.alice, "Level": "show"])
        #expect(try alice.deployments(["StackId": w.stack]).count == 1)
    }

    @Test("A store of schema 3 upgrades (tombstones, then tags) on open and keeps its data")
    func upgradeFromSchema3() throws {
        let w = try Self.world()
        let path = w.path
        // Make the store a schema-3 store: as the previous release wrote it (PostgreSQL:
        // the same tables, its version in meta).
        let postgres = Store.isPostgres(path)
        do {
            let c = try storeConnection(path, writable: true)
            try c.exec("""
                DROP TABLE tombstones; DROP TABLE tags; DROP TABLE command_logs;
                ALTER TABLE instances DROP COLUMN agent_seen_at
                """)
            try c.setSchemaVersion(3)
            c.close()
        }
        let reopened = try Fixture(path: path)
        #expect(try reopened.deployments(["StackId": w.stack]).map { $0["DeploymentId"] as! String } == [w.deployment])
        do {
            let c = try storeConnection(path)
            #expect(try c.schemaVersion() == Engine.schemaVersion)
            #expect(try c.scalar(postgres ? "SELECT count(*) FROM information_schema.tables WHERE table_schema=current_schema() AND table_name='tombstones'"
                                          : "SELECT count(*) FROM sqlite_master WHERE name='tombstones'") == 1)
            c.close()
        }
        try reopened.store.remove(.deployment, id: w.deployment)
        #expect(try reopened.deployments(["StackId": w.stack]).isEmpty)
    }
}
