import Foundation
@testable import OwdCore
import Testing

/// Section 12 for stacks, layers, apps and tags, and the model's unsupported operations.
@Suite("The rest of the control plane: stacks, layers, apps, tags (section 12)")
struct ControlPlaneTests {
    static let alice = "arn:aws:iam::123456789012:user/alice"
    static let bob = "arn:aws:iam::123456789012:user/bob"

    /// Two handles on one file, each with its own engine and cache (as two processes).
    struct World {
        let a: Fixture, b: Fixture, path: String
        let stack: String, layer: String, app: String, instance: String, deployment: String
    }

    static func world() throws -> World {
        let path = sharedStorePath()
        let a = try Fixture(path: path), b = try Fixture(path: path)
        let stack = try a.stack()
        let layer = try a.layer(stack)
        let app = try a.app(stack)
        let instance = try a.instance(stack, layers: [layer])
        let deployment = try a.deploy(stack, app: app)
        // b has read everything (its cache holds it).
        #expect(try b.deployments(["AppId": app]).count == 1)
        return World(a: a, b: b, path: path, stack: stack, layer: layer, app: app, instance: instance, deployment: deployment)
    }

    /// Takes an instance row out of the store. DeleteInstance is the other half of issue 14;
    /// instances are not cached, so removing the row is what it does to what these tests need.
    static func dropInstance(_ w: World, _ id: String) throws {
        let c = try storeConnection(w.path, writable: true)
        defer { c.close() }
        try c.prepare("DELETE FROM instances WHERE id=?").bind(1, id).run()
        try c.exec("UPDATE meta SET value=value+1 WHERE key='change_seq'")
    }

    static func stackItem(_ f: Fixture, _ id: String) throws -> [String: Any] {
        (try f.call("DescribeStacks", ["StackIds": [id]])["Stacks"] as! [[String: Any]])[0]
    }

    // MARK: Stacks

    @Test("UpdateStack changes the members it is given; the others keep their values")
    func updateStack() throws {
        let w = try Self.world()
        let before = try Self.stackItem(w.a, w.stack)
        try w.a.call("UpdateStack", ["StackId": w.stack, "Name": "renamed", "Attributes": ["Color": "rgb(45, 114, 184)"],
                                     "UseCustomCookbooks": true])
        let after = try Self.stackItem(w.b, w.stack)
        #expect(after["Name"] as? String == "renamed")
        #expect(canonical(after["Attributes"]!) == canonical(["Color": "rgb(45, 114, 184)"]))
        #expect(after["UseCustomCookbooks"] as? Bool == true)
        for k in ["Arn", "Region", "ServiceRoleArn", "DefaultOs", "HostnameTheme", "CreatedAt"] {
            #expect(canonical(after[k]!) == canonical(before[k]!), "\(k)")
        }
    }

    @Test("DeleteStack needs a stack with no instances, layers or apps: a ValidationException naming what is left, and nothing changes")
    func deleteStackNeedsEmpty() throws {
        let w = try Self.world()
        _ = try w.a.instance(w.stack, layers: [w.layer], online: false)
        let before = try w.a.dump()
        w.a.expectError("DeleteStack", ["StackId": w.stack], "ValidationException",
                        "Cannot delete stack \(w.stack): it still has 2 instances, 1 layer and 1 app; delete them first")
        #expect(try w.a.dump() == before)
        let other = try w.a.stack("other")
        _ = try w.a.app(other)
        w.a.expectError("DeleteStack", ["StackId": other], "ValidationException",
                        "Cannot delete stack \(other): it still has 1 app; delete them first")
    }

    @Test("DeleteStack removes the stack with its deployments, commands, permissions and tags in one transaction; another process sees it on its next call")
    func deleteStackRemovesItsHistory() throws {
        let w = try Self.world()
        try w.a.call("CreateUserProfile", ["IamUserArn": Self.bob])
        try w.a.call("SetPermission", ["StackId": w.stack, "IamUserArn": Self.bob, "Level": "show"])
        let arn = try Self.stackItem(w.a, w.stack)["Arn"] as! String
        try w.a.call("TagResource", ["ResourceArn": arn, "Tags": ["team": "payments"]])
        let command = try w.a.commandIDs(w.deployment)[0]
        let kept = try w.a.stack("kept")
        #expect(!(try w.b.call("DescribePermissions", ["IamUserArn": Self.bob])["Permissions"] as! [Any]).isEmpty)
        try Self.dropInstance(w, w.instance)
        try w.a.call("DeleteApp", ["AppId": w.app])
        try w.a.call("DeleteLayer", ["LayerId": w.layer])
        try w.a.call("DeleteStack", ["StackId": w.stack])
        for f in [w.a, w.b] {
            f.expectError("DescribeStacks", ["StackIds": [w.stack]], "ResourceNotFoundException", "Unable to find stack with ID \(w.stack)")
            #expect((try f.call("DescribeStacks")["Stacks"] as! [[String: Any]]).map { $0["StackId"] as! String } == [kept])
            f.expectError("DescribeDeployments", ["DeploymentIds": [w.deployment]], "ResourceNotFoundException")
            f.expectError("DescribeCommands", ["CommandIds": [command]], "ResourceNotFoundException")
            #expect(try f.deployments().isEmpty)
            #expect(try f.commands([:]).isEmpty)
            #expect((try f.call("DescribePermissions", ["IamUserArn": Self.bob])["Permissions"] as! [Any]).isEmpty)
            f.expectError("ListTags", ["ResourceArn": arn], "ResourceNotFoundException")
        }
        let c = try storeConnection(w.path)
        defer { c.close() }
        for table in ["deployments", "commands", "permissions", "tags", "layers", "apps", "app_versions"] {
            #expect(try c.scalar("SELECT count(*) FROM \(table)") == 0, "\(table)")
        }
    }

    // MARK: Layers

    @Test("UpdateLayer changes the members it is given; Type and the others stay")
    func updateLayer() throws {
        let w = try Self.world()
        try w.a.call("UpdateLayer", ["LayerId": w.layer, "Name": "Web servers", "AutoAssignPublicIps": false,
                                     "CustomRecipes": ["Setup": ["nginx::default"]]])
        let l = (try w.b.call("DescribeLayers", ["LayerIds": [w.layer]])["Layers"] as! [[String: Any]])[0]
        #expect(l["Name"] as? String == "Web servers" && l["Shortname"] as? String == "web" && l["Type"] as? String == "custom")
        #expect(l["AutoAssignPublicIps"] as? Bool == false && l["EnableAutoHealing"] as? Bool == true)
        #expect(canonical(l["CustomRecipes"]!) == canonical(["Setup": ["nginx::default"]]))
    }

    @Test("DeleteLayer needs a layer with no instances; it removes the layer and its tags, for every handle")
    func deleteLayer() throws {
        let w = try Self.world()
        let before = try w.a.dump()
        w.a.expectError("DeleteLayer", ["LayerId": w.layer], "ValidationException",
                        "Cannot delete layer \(w.layer): it still has 1 instance; delete them (or unassign registered ones) first")
        #expect(try w.a.dump() == before)
        let empty = try w.a.layer(w.stack, "empty")
        let arn = (try w.a.call("DescribeLayers", ["LayerIds": [empty]])["Layers"] as! [[String: Any]])[0]["Arn"] as! String
        try w.a.call("TagResource", ["ResourceArn": arn, "Tags": ["k": "v"]])
        try w.a.call("DeleteLayer", ["LayerId": empty])
        for f in [w.a, w.b] {
            f.expectError("DescribeLayers", ["LayerIds": [empty]], "ResourceNotFoundException", "Unable to find layer with ID \(empty)")
            #expect((try f.call("DescribeLayers", ["StackId": w.stack])["Layers"] as! [[String: Any]]).count == 1)
            f.expectError("ListTags", ["ResourceArn": arn], "ResourceNotFoundException")
        }
        // The name is free again.
        _ = try w.a.layer(w.stack, "empty")
    }

    // MARK: Apps

    @Test("DeleteApp removes the app and its versions; its deployments stay visible by StackId, DeploymentIds, CommandIds and with no parameter; by AppId it is ResourceNotFoundException, in another process too")
    func deleteAppKeepsHistory() throws {
        let w = try Self.world()
        try w.a.call("UpdateApp", ["AppId": w.app, "Description": "v2"])
        let command = try w.a.commandIDs(w.deployment)[0]
        try w.a.call("DeleteApp", ["AppId": w.app])
        for f in [w.a, w.b] {
            f.expectError("DescribeApps", ["AppIds": [w.app]], "ResourceNotFoundException", "Unable to find app with ID \(w.app)")
            f.expectError("DescribeDeployments", ["AppId": w.app], "ResourceNotFoundException", "Unable to find app with ID \(w.app)")
            f.expectError("CreateDeployment", ["StackId": w.stack, "AppId": w.app, "Command": ["Name": "deploy"]],
                          "ResourceNotFoundException")
            for request: [String: Any] in [["StackId": w.stack], ["DeploymentIds": [w.deployment]], [:]] {
                let d = try f.deployments(request)
                #expect(d.map { $0["DeploymentId"] as! String } == [w.deployment], "\(request)")
                #expect(d.first?["AppId"] as? String == w.app)
            }
            #expect(try f.commands(["CommandIds": [command]]).count == 1)
        }
        let c = try storeConnection(w.path)
        defer { c.close() }
        #expect(try c.scalar("SELECT count(*) FROM app_versions") == 0)
        // Its name is free again.
        _ = try w.a.app(w.stack)
    }

    // MARK: CloneStack

    @Test("CloneStack makes a stack of the source's members (given members win) and its layers with new IDs; CloneAppIds and ClonePermissions copy those; never instances or deployments")
    func cloneStack() throws {
        let w = try Self.world()
        try w.a.call("UpdateStack", ["StackId": w.stack, "DefaultOs": "Ubuntu 22.04 LTS", "CustomJson": "{\"a\":1}"])
        let second = try w.a.call("CreateLayer", ["StackId": w.stack, "Type": "db-master", "Name": "MySQL",
                                                  "Shortname": "db-master", "Attributes": ["MysqlRootPassword": "pw"]])["LayerId"] as! String
        let other = try w.a.app(w.stack, "other")
        try w.a.call("CreateUserProfile", ["IamUserArn": Self.bob])
        try w.a.call("SetPermission", ["StackId": w.stack, "IamUserArn": Self.bob, "Level": "deploy", "AllowSsh": true])
        let clone = try w.a.call("CloneStack", ["SourceStackId": w.stack, "Name": "clone", "Region": "eu-west-1",
                                                "ServiceRoleArn": "arn:aws:iam::123456789012:role/clone",
                                                "CloneAppIds": [other], "ClonePermissions": true])["StackId"] as! String
        #expect(clone != w.stack && isLowercaseV4UUID(clone))
        let source = try Self.stackItem(w.a, w.stack), s = try Self.stackItem(w.b, clone)
        #expect(s["Name"] as? String == "clone" && s["Region"] as? String == "eu-west-1")
        #expect(s["ServiceRoleArn"] as? String == "arn:aws:iam::123456789012:role/clone")
        #expect(s["Arn"] as? String == "arn:aws:opsworks:eu-west-1:000000000000:stack/\(clone)/")
        for k in ["DefaultOs", "CustomJson", "DefaultInstanceProfileArn", "ConfigurationManager", "HostnameTheme"] {
            #expect(canonical(s[k]!) == canonical(source[k]!), "\(k)")
        }
        let layers = try w.b.call("DescribeLayers", ["StackId": clone])["Layers"] as! [[String: Any]]
        let sourceLayers = try w.a.call("DescribeLayers", ["StackId": w.stack])["Layers"] as! [[String: Any]]
        #expect(layers.map { $0["Name"] as! String } == ["web", "MySQL"])
        #expect(Set(layers.map { $0["LayerId"] as! String }).isDisjoint(with: [w.layer, second]))
        for (l, o) in zip(layers, sourceLayers) {
            var a = l, b = o
            for k in ["LayerId", "StackId", "Arn", "CreatedAt"] { a[k] = nil; b[k] = nil }
            #expect(canonical(a) == canonical(b))
            #expect(l["Arn"] as? String == "arn:aws:opsworks:eu-west-1:000000000000:layer/\(l["LayerId"] as! String)/")
        }
        let apps = try w.b.call("DescribeApps", ["StackId": clone])["Apps"] as! [[String: Any]]
        #expect(apps.map { $0["Name"] as! String } == ["other"])
        #expect(apps.first?["AppId"] as? String != other)
        #expect((try w.b.call("DescribeInstances", ["StackId": clone])["Instances"] as! [Any]).isEmpty)
        #expect(try w.b.deployments(["StackId": clone]).isEmpty)
        let p = try w.b.call("DescribePermissions", ["StackId": clone, "IamUserArn": Self.bob])["Permissions"] as! [[String: Any]]
        #expect(p.first?["Level"] as? String == "deploy" && p.first?["AllowSsh"] as? Bool == true)
        // Without ClonePermissions and CloneAppIds: layers only.
        let bare = try w.a.call("CloneStack", ["SourceStackId": w.stack, "ServiceRoleArn": "r"])["StackId"] as! String
        #expect(try Self.stackItem(w.a, bare)["Name"] as? String == source["Name"] as? String)
        #expect((try w.a.call("DescribeApps", ["StackId": bare])["Apps"] as! [Any]).isEmpty)
        #expect((try w.a.call("DescribePermissions", ["StackId": bare])["Permissions"] as! [Any]).isEmpty)
        #expect((try w.a.call("DescribeLayers", ["StackId": bare])["Layers"] as! [Any]).count == 2)
    }

    @Test("CloneStack by an identified caller makes it the clone's manager; an app of another stack is a ValidationException")
    func cloneStackRules() throws {
        let w = try Self.world()
        try w.a.call("CreateUserProfile", ["IamUserArn": Self.alice])
        try w.a.call("SetPermission", ["StackId": w.stack, "IamUserArn": Self.alice, "Level": "manage"])
        let alice = w.a.as(Self.alice)
        let foreign = try w.a.app(try w.a.stack("other"))
        let before = try w.a.dump()
        alice.expectError("CloneStack", ["SourceStackId": w.stack, "ServiceRoleArn": "r", "CloneAppIds": [foreign]],
                          "ValidationException", "App \(foreign) does not belong to stack \(w.stack)")
        #expect(try w.a.dump() == before)
        let clone = try alice.call("CloneStack", ["SourceStackId": w.stack, "ServiceRoleArn": "r", "ClonePermissions": true])["StackId"] as! String
        let p = try w.a.call("DescribePermissions", ["StackId": clone])["Permissions"] as! [[String: Any]]
        #expect(p.map { $0["IamUserArn"] as! String } == [Self.alice])
        #expect(p.first?["Level"] as? String == "manage")
        #expect(try Self.stackItem(w.a, clone)["Arn"] as? String == "arn:aws:opsworks:us-east-1:123456789012:stack/\(clone)/")
    }

    // MARK: Summary, provisioning parameters

    @Test("DescribeStackSummary counts the stack's layers, apps and instances by status")
    func stackSummary() throws {
        let w = try Self.world()
        _ = try w.a.instance(w.stack, layers: [w.layer], online: false)
        _ = try w.a.instance(w.stack, layers: [w.layer], online: false)
        _ = try w.a.app(w.stack, "second")
        let s = try w.b.call("DescribeStackSummary", ["StackId": w.stack])["StackSummary"] as! [String: Any]
        let stack = try Self.stackItem(w.a, w.stack)
        #expect(canonical(s) == canonical(["StackId": w.stack, "Name": stack["Name"]!, "Arn": stack["Arn"]!,
                                           "LayersCount": 1, "AppsCount": 2,
                                           "InstancesCount": ["Online": 1, "Stopped": 2]]))
        let empty = try w.a.stack("empty")
        let e = try w.a.call("DescribeStackSummary", ["StackId": empty])["StackSummary"] as! [String: Any]
        #expect(e["LayersCount"] as? Int == 0 && e["AppsCount"] as? Int == 0)
        #expect(canonical(e["InstancesCount"]!) == canonical([String: Any]()))
        #expect(Store.instancesCountMember("connection_lost") == "ConnectionLost")
    }

    @Test("DescribeStackProvisioningParameters gives the stack's ID, region and agent version")
    func provisioningParameters() throws {
        let w = try Self.world()
        let p = try w.a.call("DescribeStackProvisioningParameters", ["StackId": w.stack])
        #expect(canonical(p) == canonical(["Parameters": ["agent_version": "LATEST", "instance_service_region": "us-east-1",
                                                          "stack_id": w.stack]]))
    }

    // MARK: Tags

    @Test("TagResource, UntagResource and ListTags take a stack's or a layer's Arn; tags merge, a key is replaced, removed keys go")
    func tags() throws {
        let w = try Self.world()
        let stackArn = try Self.stackItem(w.a, w.stack)["Arn"] as! String
        let layerArn = (try w.a.call("DescribeLayers", ["LayerIds": [w.layer]])["Layers"] as! [[String: Any]])[0]["Arn"] as! String
        #expect(stackArn == "arn:aws:opsworks:us-east-1:000000000000:stack/\(w.stack)/")
        try w.a.call("TagResource", ["ResourceArn": stackArn, "Tags": ["team": "payments", "env": "prod"]])
        try w.a.call("TagResource", ["ResourceArn": stackArn, "Tags": ["env": "staging", "cost": "42"]])
        try w.a.call("TagResource", ["ResourceArn": layerArn, "Tags": ["role": "web"]])
        #expect(canonical(try w.b.call("ListTags", ["ResourceArn": stackArn])["Tags"]!) ==
                canonical(["team": "payments", "env": "staging", "cost": "42"]))
        #expect(canonical(try w.b.call("ListTags", ["ResourceArn": layerArn])["Tags"]!) == canonical(["role": "web"]))
        try w.a.call("UntagResource", ["ResourceArn": stackArn, "TagKeys": ["team", "absent"]])
        #expect(canonical(try w.b.call("ListTags", ["ResourceArn": stackArn])["Tags"]!) == canonical(["env": "staging", "cost": "42"]))
        // Pages of MaxResults, in key order; NextToken continues.
        let first = try w.a.call("ListTags", ["ResourceArn": stackArn, "MaxResults": 1])
        #expect(canonical(first["Tags"]!) == canonical(["cost": "42"]))
        let next = try w.a.call("ListTags", ["ResourceArn": stackArn, "MaxResults": 1, "NextToken": first["NextToken"] as! String])
        #expect(canonical(next["Tags"]!) == canonical(["env": "staging"]) && next["NextToken"] == nil)
    }

    @Test("Tags: a malformed Arn and broken limits are ValidationExceptions; an unknown resource or another region is not found; nothing changes")
    func tagRules() throws {
        let w = try Self.world()
        let arn = try Self.stackItem(w.a, w.stack)["Arn"] as! String
        let before = try w.a.dump()
        for bad in ["", "stack/\(w.stack)/", "arn:aws:opsworks:us-east-1:0:instance/\(w.instance)/",
                    "arn:aws:ec2:us-east-1:0:stack/\(w.stack)/", "arn:aws:opsworks:us-east-1:0:stack/\(w.stack)"] {
            w.a.expectError("TagResource", ["ResourceArn": bad, "Tags": ["a": "b"]], "ValidationException")
            w.a.expectError("ListTags", ["ResourceArn": bad], "ValidationException")
        }
        w.a.expectError("TagResource", ["ResourceArn": "arn:aws:opsworks:eu-west-1:000000000000:stack/\(w.stack)/", "Tags": ["a": "b"]],
                        "ResourceNotFoundException", "Unable to find stack with ID \(w.stack)")
        w.a.expectError("TagResource", ["ResourceArn": arn, "Tags": ["aws:owner": "b"]], "ValidationException")
        w.a.expectError("TagResource", ["ResourceArn": arn, "Tags": ["": "b"]], "ValidationException")
        w.a.expectError("TagResource", ["ResourceArn": arn, "Tags": [String(repeating: "k", count: 128): "b"]], "ValidationException")
        w.a.expectError("TagResource", ["ResourceArn": arn, "Tags": ["k": String(repeating: "v", count: 257)]], "ValidationException")
        var many: [String: String] = [:]
        for i in 0..<41 { many["k\(i)"] = "v" }
        w.a.expectError("TagResource", ["ResourceArn": arn, "Tags": many], "ValidationException")
        w.a.expectError("ListTags", ["ResourceArn": arn, "MaxResults": 0], "ValidationException")
        #expect(try w.a.dump() == before)
        #expect((try w.a.call("ListTags", ["ResourceArn": arn])["Tags"] as! [String: Any]).isEmpty)
        many["k40"] = nil
        try w.a.call("TagResource", ["ResourceArn": arn, "Tags": many])
        #expect((try w.a.call("ListTags", ["ResourceArn": arn])["Tags"] as! [String: Any]).count == 40)
    }

    // MARK: Unsupported operations

    @Test("Every other operation of the model is UnsupportedOperationException naming it and saying that owd manages no AWS resources; one the model lacks is UnknownOperationException")
    func unsupportedOperations() throws {
        let f = try Fixture()
        let stack = try f.stack()
        let before = try f.dump()
        // botocore 1.39.17's model has 74 operations: the table's AWS ones and these.
        let aws = Operation.allCases.filter { !["AcknowledgeCommand", "CompleteCommand", "PollCommands", "GetCommandLog"].contains($0.rawValue) }
        #expect(Operation.unsupported.isDisjoint(with: aws.map(\.rawValue)))
        #expect(Operation.unsupported.count + aws.count == 74)
        for expected in ["AssignVolume", "AssociateElasticIp", "AttachElasticLoadBalancer", "RegisterRdsDbInstance",
                         "RegisterEcsCluster", "SetLoadBasedAutoScaling", "SetTimeBasedAutoScaling", "GrantAccess",
                         "DescribeVolumes", "DescribeRaidArrays"] {
            #expect(Operation.unsupported.contains(expected), "\(expected)")
        }
        for op in Operation.unsupported.sorted() {
            for request: [String: Any] in [[:], ["StackId": stack], ["Nonsense": 1]] {
                let e = f.error(op, request)
                #expect(e?.type == "UnsupportedOperationException", "\(op)")
                #expect(e?.message.hasPrefix("\(op) is not supported: owd manages no AWS resources") == true, "\(e?.message ?? "")")
                #expect(e?.code == -9)
            }
        }
        #expect(try f.dump() == before)
        f.expectError("DescribeEverything", [:], "UnknownOperationException", "Unknown operation DescribeEverything")
        #expect(f.error("describeVolumes")?.type == "UnknownOperationException")
    }
}
