import Foundation
@testable import OwdCore
import Testing

/// behaviour.md sections 11 and 12 for instances: defaults and hostnames at creation, the
/// instance operations, and what happens to commands when an instance stops or leaves.
@Suite("Instances: defaults, hostnames, the control plane (sections 11, 12)")
struct InstanceTests {
    static let alice = "arn:aws:iam::123456789012:user/alice"

    static func instance(_ f: Fixture, _ id: String) throws -> [String: Any] {
        (try f.call("DescribeInstances", ["InstanceIds": [id]])["Instances"] as! [[String: Any]])[0]
    }

    static func create(_ f: Fixture, _ stack: String, _ layers: [String], _ extra: [String: Any] = [:]) throws -> String {
        var req: [String: Any] = ["StackId": stack, "LayerIds": layers, "InstanceType": "t2.micro"]
        for (k, v) in extra { req[k] = v }
        return try f.call("CreateInstance", req)["InstanceId"] as! String
    }

    static func stack(_ f: Fixture, _ extra: [String: Any]) throws -> String {
        var req: [String: Any] = ["Name": "s", "Region": "eu-west-1",
                                  "ServiceRoleArn": "arn:aws:iam::123456789012:role/aws-opsworks-service-role",
                                  "DefaultInstanceProfileArn": "arn:aws:iam::123456789012:instance-profile/ec2-role"]
        for (k, v) in extra { req[k] = v }
        return try f.call("CreateStack", req)["StackId"] as! String
    }

    static func layer(_ f: Fixture, _ stack: String, _ shortname: String) throws -> String {
        try f.call("CreateLayer", ["StackId": stack, "Type": "custom", "Name": shortname, "Shortname": shortname])["LayerId"] as! String
    }

    static func hostname(_ f: Fixture, _ id: String) throws -> String? { try instance(f, id)["Hostname"] as? String }

    // MARK: Section 11

    @Test("An instance's defaults at creation: Os, Architecture, RootDeviceType, InstallUpdatesOnBoot, EbsOptimized, AgentVersion, InfrastructureClass, the stack's defaults")
    func defaultsAtCreation() throws {
        let f = try Fixture()
        let plain = try Self.stack(f, [:])
        let i = try Self.instance(f, try Self.create(f, plain, [try Self.layer(f, plain, "web")]))
        #expect(i["Os"] as? String == "Amazon Linux 2")
        #expect(i["Architecture"] as? String == "x86_64")
        #expect(i["RootDeviceType"] as? String == "instance-store")
        #expect(i["InstallUpdatesOnBoot"] as? Bool == true)
        #expect(i["EbsOptimized"] as? Bool == false)
        #expect(i["AgentVersion"] as? String == "INHERIT")
        #expect(i["InfrastructureClass"] as? String == "ec2")
        #expect(i["InstanceProfileArn"] as? String == "arn:aws:iam::123456789012:instance-profile/ec2-role")
        #expect(i["Arn"] as? String == "arn:aws:opsworks:eu-west-1:000000000000:instance/\(i["InstanceId"] as! String)")
        // A member never given and without a documented default stays absent.
        for absent in ["SshKeyName", "AvailabilityZone", "SubnetId", "AmiId", "RegisteredBy", "AutoScalingType"] {
            #expect(i[absent] == nil, "\(absent)")
        }
        // The stack's defaults, when it has them.
        let rich = try Self.stack(f, ["DefaultOs": "Ubuntu 20.04 LTS", "DefaultRootDeviceType": "ebs",
                                      "DefaultSshKeyName": "ops", "DefaultAvailabilityZone": "eu-west-1b",
                                      "DefaultSubnetId": "subnet-1234"])
        let r = try Self.instance(f, try Self.create(f, rich, [try Self.layer(f, rich, "web")]))
        #expect(r["Os"] as? String == "Ubuntu 20.04 LTS")
        #expect(r["RootDeviceType"] as? String == "ebs")
        #expect(r["SshKeyName"] as? String == "ops")
        #expect(r["AvailabilityZone"] as? String == "eu-west-1b")
        #expect(r["SubnetId"] as? String == "subnet-1234")
    }

    @Test("Given values always win over the defaults")
    func givenValuesWin() throws {
        let f = try Fixture()
        let s = try Self.stack(f, ["DefaultOs": "Ubuntu 20.04 LTS", "DefaultSshKeyName": "ops"])
        let given: [String: Any] = ["Os": "CentOS Linux 7", "Architecture": "i386", "RootDeviceType": "ebs",
                                    "InstallUpdatesOnBoot": false, "EbsOptimized": true, "AgentVersion": "owd-1",
                                    "SshKeyName": "mine", "AvailabilityZone": "eu-west-1c", "SubnetId": "subnet-9",
                                    "Hostname": "db-primary"]
        let i = try Self.instance(f, try Self.create(f, s, [try Self.layer(f, s, "db")], given))
        for (k, v) in given { #expect(canonical(i[k] ?? "absent") == canonical(v), "\(k)") }
    }

    @Test("The stack's DefaultOs makes a Windows instance when it names Windows (section 9 with the defaults)")
    func defaultOsWindows() throws {
        let f = try Fixture()
        let s = try Self.stack(f, ["DefaultOs": "Microsoft Windows Server 2019 Base"])
        let i = try Self.create(f, s, [try Self.layer(f, s, "win")])
        try f.start(i)
        let d = try f.deploy(s, command: "install_dependencies")
        #expect(try f.deployments(["DeploymentIds": [d]])[0]["Status"] as? String == "successful")
    }

    @Test("Hostname with theme Layer_Dependent: the first layer's Shortname and the smallest integer >= 1 unique in the stack")
    func hostnameLayerDependent() throws {
        let f = try Fixture()
        let s = try Self.stack(f, ["HostnameTheme": "Layer_Dependent"])
        let php = try Self.layer(f, s, "php-app")
        let db = try Self.layer(f, s, "db")
        let a = try Self.create(f, s, [php, db])
        let b = try Self.create(f, s, [php])
        #expect(try Self.hostname(f, a) == "php-app1")
        #expect(try Self.hostname(f, b) == "php-app2")
        // The first layer decides.
        #expect(try Self.hostname(f, try Self.create(f, s, [db, php])) == "db1")
        // A given name takes its place; the next one skips it.
        _ = try Self.create(f, s, [db], ["Hostname": "php-app3"])
        #expect(try Self.hostname(f, try Self.create(f, s, [php])) == "php-app4")
        // The smallest free integer: a deleted instance's name is free again.
        try f.call("DeleteInstance", ["InstanceId": a])
        #expect(try Self.hostname(f, try Self.create(f, s, [php])) == "php-app1")
        // Unique in the stack, not across stacks.
        let other = try Self.stack(f, [:])
        #expect(try Self.hostname(f, try Self.create(f, other, [try Self.layer(f, other, "php-app")])) == "php-app1")
    }

    @Test("Hostname with another theme: the theme's name in lowercase with - for _, and the smallest integer unique in the stack")
    func hostnameOtherTheme() throws {
        let f = try Fixture()
        let s = try Self.stack(f, ["HostnameTheme": "Baked_Goods"])
        let l = try Self.layer(f, s, "web")
        #expect(try Self.hostname(f, try Self.create(f, s, [l])) == "baked-goods1")
        #expect(try Self.hostname(f, try Self.create(f, s, [l])) == "baked-goods2")
        #expect(Store.hostnameBase(theme: "Legendary_creatures_from_Japan", layerShortname: "web") == "legendary-creatures-from-japan")
        #expect(Store.hostnameBase(theme: "Layer_Dependent", layerShortname: nil) == "instance")
    }

    @Test("GetHostnameSuggestion returns the name the next instance of that layer would get")
    func hostnameSuggestion() throws {
        let f = try Fixture()
        let s = try Self.stack(f, [:])
        let php = try Self.layer(f, s, "php-app")
        for _ in 0..<3 {
            let suggested = try f.call("GetHostnameSuggestion", ["LayerId": php])
            #expect(suggested["LayerId"] as? String == php)
            let got = try Self.hostname(f, try Self.create(f, s, [php]))
            #expect(suggested["Hostname"] as? String == got)
        }
        #expect(try f.call("GetHostnameSuggestion", ["LayerId": php])["Hostname"] as? String == "php-app4")
        let x = unknownID()
        f.expectError("GetHostnameSuggestion", ["LayerId": x], "ResourceNotFoundException", "Unable to find layer with ID \(x)")
    }

    @Test("An instance's layers all of its stack: Please only provide layer IDs from the same stack (CreateInstance, UpdateInstance, AssignInstance)")
    func layersOfTheSameStack() throws {
        let f = try Fixture()
        let s = try Self.stack(f, [:]), o = try Self.stack(f, [:])
        let mine = try Self.layer(f, s, "web"), theirs = try Self.layer(f, o, "web")
        let i = try Self.create(f, s, [mine])
        let registered = try f.call("RegisterInstance", ["StackId": s, "Hostname": "box"])["InstanceId"] as! String
        let before = try f.dump()
        let message = "Please only provide layer IDs from the same stack"
        f.expectError("CreateInstance", ["StackId": s, "LayerIds": [mine, theirs], "InstanceType": "t2.micro"], "ValidationException", message)
        f.expectError("UpdateInstance", ["InstanceId": i, "LayerIds": [theirs]], "ValidationException", message)
        f.expectError("AssignInstance", ["InstanceId": registered, "LayerIds": [theirs]], "ValidationException", message)
        #expect(try f.dump() == before)
    }

    // MARK: Section 12: instance operations

    @Test("UpdateInstance changes the members given and keeps the others; a new Os decides Windows")
    func updateInstance() throws {
        let f = try Fixture()
        let s = try Self.stack(f, [:])
        let web = try Self.layer(f, s, "web"), db = try Self.layer(f, s, "db")
        let i = try Self.create(f, s, [web])
        let before = try Self.instance(f, i)
        try f.call("UpdateInstance", ["InstanceId": i, "InstanceType": "m5.large", "LayerIds": [db, web],
                                      "Os": "Microsoft Windows Server 2019 Base", "Hostname": "renamed"])
        let after = try Self.instance(f, i)
        #expect(after["InstanceType"] as? String == "m5.large")
        #expect(after["LayerIds"] as? [String] == [db, web])
        #expect(after["Hostname"] as? String == "renamed")
        for k in ["Architecture", "Arn", "CreatedAt", "Status", "InfrastructureClass", "AgentVersion"] {
            #expect(canonical(after[k] ?? "absent") == canonical(before[k] ?? "absent"), "\(k)")
        }
        // The new layers are the instance's layers (DescribeInstances by LayerId), the Os its Os.
        #expect((try f.call("DescribeInstances", ["LayerId": db])["Instances"] as! [[String: Any]]).count == 1)
        try f.start(i)
        let d = try f.deploy(s, command: "update_dependencies")
        #expect(try f.deployments(["DeploymentIds": [d]])[0]["Status"] as? String == "successful")
        let x = unknownID()
        f.expectError("UpdateInstance", ["InstanceId": i, "LayerIds": [x]], "ResourceNotFoundException", "Unable to find layer with ID \(x)")
    }

    @Test("DeleteInstance needs an instance that is not online")
    func deleteNeedsNotOnline() throws {
        let f = try Fixture()
        let s = try f.stack()
        let i = try f.instance(s, layers: [try f.layer(s)])
        let before = try f.dump()
        f.expectError("DeleteInstance", ["InstanceId": i], "ValidationException",
                      "Instance \(i) is online: stop it (StopInstance) before deleting it")
        #expect(try f.dump() == before)
        try f.stop(i)
        try f.call("DeleteInstance", ["InstanceId": i, "DeleteElasticIp": true, "DeleteVolumes": true])
        f.expectError("DescribeInstances", ["InstanceIds": [i]], "ResourceNotFoundException", "Unable to find instance with ID \(i)")
        f.expectError("DeleteInstance", ["InstanceId": i], "ResourceNotFoundException", "Unable to find instance with ID \(i)")
    }

    @Test("RebootInstance needs an online instance and leaves it online")
    func rebootNeedsOnline() throws {
        let f = try Fixture()
        let s = try f.stack()
        let i = try f.instance(s, layers: [try f.layer(s)])
        let d = try f.deploy(s, command: "setup")
        try f.call("RebootInstance", ["InstanceId": i])
        #expect(try Self.instance(f, i)["Status"] as? String == "online")
        #expect(try f.commands(["DeploymentId": d])[0]["Status"] as? String == "pending")
        try f.stop(i)
        let before = try f.dump()
        f.expectError("RebootInstance", ["InstanceId": i], "ValidationException",
                      "Instance \(i) is stopped: RebootInstance needs an online instance")
        #expect(try f.dump() == before)
    }

    @Test("RegisterInstance makes an instance online at once, on-premises, RegisteredBy the caller's ARN")
    func registerInstance() throws {
        let f = try Fixture()
        try f.call("CreateUserProfile", ["IamUserArn": Self.alice])
        let alice = f.as(Self.alice)
        let s = try alice.stack()
        let id = try alice.call("RegisterInstance", ["StackId": s, "Hostname": "build-box", "PrivateIp": "10.0.0.7",
                                                     "PublicIp": "203.0.113.7", "RsaPublicKey": "ssh-rsa AAAA",
                                                     "RsaPublicKeyFingerprint": "ab:cd",
                                                     "InstanceIdentity": ["Document": "{}", "Signature": "x"]])["InstanceId"] as! String
        #expect(isLowercaseV4UUID(id))
        let i = try Self.instance(f, id)
        #expect(i["Status"] as? String == "online")
        #expect(i["InfrastructureClass"] as? String == "on-premises")
        #expect(i["RegisteredBy"] as? String == Self.alice)
        #expect(i["Hostname"] as? String == "build-box")
        #expect(i["PrivateIp"] as? String == "10.0.0.7" && i["PublicIp"] as? String == "203.0.113.7")
        #expect(i["Os"] as? String == "Amazon Linux 2")
        #expect(i["StackId"] as? String == s)
        // EC2's own settings are not given to a machine outside EC2.
        #expect(i["RootDeviceType"] == nil && i["InstanceProfileArn"] == nil && i["EbsOptimized"] == nil)
        // Online at once: a stack command runs on it.
        let d = try alice.deploy(s, command: "configure")
        #expect(try f.deployments(["DeploymentIds": [d]])[0]["InstanceIds"] as? [String] == [id])
        // By the embedding program: no RegisteredBy; a hostname of owd's choosing without one.
        let mine = try f.call("RegisterInstance", ["StackId": s])["InstanceId"] as! String
        let m = try Self.instance(f, mine)
        #expect(m["RegisteredBy"] == nil)
        #expect(m["Hostname"] as? String == "instance1")
    }

    @Test("DeregisterInstance takes an instance in any state and removes it from the stack")
    func deregisterAnyState() throws {
        let f = try Fixture()
        let s = try f.stack()
        let l = try f.layer(s)
        let online = try f.instance(s, layers: [l])
        let stopped = try f.instance(s, layers: [l], online: false)
        let registered = try f.call("RegisterInstance", ["StackId": s, "Hostname": "box"])["InstanceId"] as! String
        for i in [online, stopped, registered] { try f.call("DeregisterInstance", ["InstanceId": i]) }
        #expect((try f.call("DescribeInstances", ["StackId": s])["Instances"] as! [Any]).isEmpty)
        #expect((try f.call("DescribeInstances", ["LayerId": l])["Instances"] as! [Any]).isEmpty)
        f.expectError("DeregisterInstance", ["InstanceId": online], "ResourceNotFoundException", "Unable to find instance with ID \(online)")
    }

    @Test("AssignInstance and UnassignInstance work on registered instances only")
    func assignRegisteredOnly() throws {
        let f = try Fixture()
        let s = try f.stack()
        let web = try f.layer(s, "web"), db = try f.layer(s, "db")
        let created = try f.instance(s, layers: [web], online: false)
        let r = try f.call("RegisterInstance", ["StackId": s, "Hostname": "box"])["InstanceId"] as! String
        try f.call("AssignInstance", ["InstanceId": r, "LayerIds": [web]])
        try f.call("AssignInstance", ["InstanceId": r, "LayerIds": [db, web]])
        #expect(try Self.instance(f, r)["LayerIds"] as? [String] == [web, db])
        #expect((try f.call("DescribeInstances", ["LayerId": db])["Instances"] as! [[String: Any]]).map { $0["InstanceId"] as! String } == [r])
        // Assigned and online: a deployment to the layer reaches it.
        let d = try f.deploy(s, command: "setup", extra: ["LayerIds": [db]])
        #expect(try f.deployments(["DeploymentIds": [d]])[0]["InstanceIds"] as? [String] == [r])
        try f.call("UnassignInstance", ["InstanceId": r])
        #expect(try Self.instance(f, r)["LayerIds"] as? [String] == [])
        #expect((try f.call("DescribeInstances", ["LayerId": db])["Instances"] as! [Any]).isEmpty)
        #expect(try Self.instance(f, r)["StackId"] as? String == s)
        let before = try f.dump()
        f.expectError("AssignInstance", ["InstanceId": created, "LayerIds": [db]], "ValidationException",
                      "Instance \(created) is not a registered instance: AssignInstance works on registered instances only (RegisterInstance)")
        f.expectError("UnassignInstance", ["InstanceId": created], "ValidationException",
                      "Instance \(created) is not a registered instance: UnassignInstance works on registered instances only (RegisterInstance)")
        #expect(try f.dump() == before)
    }

    @Test("StartStack and StopStack start or stop every created instance of the stack")
    func startAndStopStack() throws {
        let f = try Fixture()
        let s = try f.stack(), o = try f.stack("o")
        let l = try f.layer(s), ol = try f.layer(o)
        let a = try f.instance(s, layers: [l], online: false), b = try f.instance(s, layers: [l])
        let elsewhere = try f.instance(o, layers: [ol], online: false)
        let registered = try f.call("RegisterInstance", ["StackId": s, "Hostname": "box"])["InstanceId"] as! String
        func status(_ i: String) throws -> String { try Self.instance(f, i)["Status"] as! String }
        try f.call("StartStack", ["StackId": s])
        #expect(try [a, b].map(status) == ["online", "online"])
        #expect(try status(elsewhere) == "stopped")
        try f.call("StopStack", ["StackId": s])
        #expect(try [a, b].map(status) == ["stopped", "stopped"])
        // A registered machine is started and stopped outside owd.
        #expect(try status(registered) == "online")
        let x = unknownID()
        f.expectError("StartStack", ["StackId": x], "ResourceNotFoundException", "Unable to find stack with ID \(x)")
    }

    // MARK: Section 12: commands of an instance that stops or leaves

    enum Departure: String, CaseIterable, Sendable {
        case stopInstance = "StopInstance", stopStack = "StopStack", deregisterInstance = "DeregisterInstance"
        case deleteInstance = "DeleteInstance"
    }

    @Test("When an instance stops or leaves the stack, its pending commands fail (CompletedAt now, no ExitCode) and its deployment rolls up",
          arguments: Departure.allCases)
    func pendingCommandsFail(_ how: Departure) throws {
        let path = sharedStorePath()
        let f = try Fixture(path: path)
        let other = try Fixture(path: path)   // another process on the same file
        let s = try f.stack()
        let l = try f.layer(s)
        let a = try f.instance(s, layers: [l]), b = try f.instance(s, layers: [l])
        let d = try f.deploy(s, command: "configure")
        let done = try f.deploy(s, command: "setup")
        try f.finish(done)
        let ack = try f.commands(["DeploymentId": d]).first { $0["InstanceId"] as? String == b }!["CommandId"] as! String
        f.clock.advance(5)
        try f.call("AcknowledgeCommand", ["CommandId": ack])
        try f.complete(try f.commands(["DeploymentId": d]).first { $0["InstanceId"] as? String == a }!["CommandId"] as! String)
        #expect(try other.deployments(["DeploymentIds": [d]])[0]["Status"] as? String == "running")
        f.clock.advance(7)
        switch how {
        case .stopInstance: try f.stop(b)
        case .stopStack: try f.call("StopStack", ["StackId": s])
        case .deregisterInstance: try f.call("DeregisterInstance", ["InstanceId": b])
        case .deleteInstance:
            // DeleteInstance needs a stopped instance, whose commands failed when it stopped:
            // it fails what is pending (nothing), and the history stays.
            try f.stop(b)
            try f.call("DeleteInstance", ["InstanceId": b])
        }
        for reader in [f, other] {
            let failed = try reader.commands(["CommandIds": [ack]])[0]
            #expect(failed["Status"] as? String == "failed")
            #expect(failed["CompletedAt"] as? String == "2013-07-25T18:57:46+00:00")
            #expect(failed["ExitCode"] == nil)
            #expect(failed["AcknowledgedAt"] as? String == "2013-07-25T18:57:39+00:00")
            let dep = try reader.deployments(["DeploymentIds": [d]])[0]
            #expect(dep["Status"] as? String == "failed")
            #expect(dep["CompletedAt"] as? String == "2013-07-25T18:57:46+00:00")
            #expect(dep["Duration"] as? Int == 12)
            // A finished deployment is not touched.
            #expect(try reader.deployments(["DeploymentIds": [done]])[0]["Status"] as? String == "successful")
        }
    }

    @Test("A deployment all of whose pending commands fail that way is failed, and the one primitive skips what is not pending")
    func allPendingFail() throws {
        let f = try Fixture()
        let s = try f.stack()
        let a = try f.instance(s, layers: [try f.layer(s)])
        let d = try f.deploy(s, command: "configure")
        f.clock.advance(3)
        try f.stop(a)
        try f.stop(a)   // stopping again finds nothing pending: no change
        let dep = try f.deployments(["DeploymentIds": [d]])[0]
        #expect(dep["Status"] as? String == "failed" && dep["Duration"] as? Int == 3)
        #expect(try f.commands(["DeploymentId": d]).map { $0["Status"] as! String } == ["failed"])
    }

    @Test("History stays: a deleted instance's commands and deployments are visible by StackId, DeploymentIds, CommandIds and with no parameter; naming its InstanceId is ResourceNotFoundException")
    func historyStays() throws {
        let f = try Fixture()
        let s = try f.stack()
        let l = try f.layer(s)
        let gone = try f.instance(s, layers: [l]), stays = try f.instance(s, layers: [l])
        let d = try f.deploy(s, command: "configure")
        let commands = try f.commandIDs(d)
        try f.call("DeregisterInstance", ["InstanceId": gone])
        #expect(try f.deployments(["StackId": s]).map { $0["DeploymentId"] as! String } == [d])
        #expect(try f.deployments(["DeploymentIds": [d]])[0]["InstanceIds"] as? [String] == [gone, stays])
        #expect(try f.deployments().count == 1)
        #expect(try f.commands(["DeploymentId": d]).map { $0["InstanceId"] as! String } == [gone, stays])
        #expect(try f.commands(["CommandIds": commands]).count == 2)
        #expect(try f.commands([:]).count == 2)
        f.expectError("DescribeCommands", ["InstanceId": gone], "ResourceNotFoundException", "Unable to find instance with ID \(gone)")
        f.expectError("DescribeInstances", ["InstanceIds": [gone]], "ResourceNotFoundException", "Unable to find instance with ID \(gone)")
        f.expectError("CreateDeployment", ["StackId": s, "Command": ["Name": "setup"], "InstanceIds": [gone]],
                      "ResourceNotFoundException", "Unable to find instance with ID \(gone)")
    }

    @Test("A deleted or deregistered instance is gone for another handle on the same file on its next call")
    func deletionReachesOtherHandles() throws {
        let path = sharedStorePath()
        let a = try Fixture(path: path), b = try Fixture(path: path)
        let s = try a.stack()
        let l = try a.layer(s)
        let x = try a.instance(s, layers: [l], online: false), y = try a.instance(s, layers: [l])
        #expect((try b.call("DescribeInstances", ["StackId": s])["Instances"] as! [Any]).count == 2)
        try a.call("DeleteInstance", ["InstanceId": x])
        b.expectError("DescribeInstances", ["InstanceIds": [x]], "ResourceNotFoundException")
        try a.call("DeregisterInstance", ["InstanceId": y])
        #expect((try b.call("DescribeInstances")["Instances"] as! [Any]).isEmpty)
        b.expectError("StartInstance", ["InstanceId": y], "ResourceNotFoundException", "Unable to find instance with ID \(y)")
    }
}
