import Foundation
@testable import OwdCore
import Testing

/// behaviour.md section 12 for user profiles (updates, deletion, the caller's own profile)
/// and for what OpsWorks offered rather than stored (operating systems, agent versions,
/// service errors).
@Suite("User profiles and the catalog (section 12)")
struct UserProfileAndCatalogTests {
    static let alice = "arn:aws:iam::123456789012:user/alice"
    static let bob = "arn:aws:iam::123456789012:user/bob"

    static func profile(_ f: Fixture, _ arn: String) throws -> [String: Any] {
        (try f.call("DescribeUserProfiles", ["IamUserArns": [arn]])["UserProfiles"] as! [[String: Any]])[0]
    }

    @Test("UpdateUserProfile changes the members given and keeps the others; the embedding program's only")
    func updateUserProfile() throws {
        let f = try Fixture()
        try f.call("CreateUserProfile", ["IamUserArn": Self.alice, "SshUsername": "alice", "SshPublicKey": "ssh-ed25519 A"])
        try f.call("UpdateUserProfile", ["IamUserArn": Self.alice, "SshUsername": "al", "AllowSelfManagement": true])
        #expect(canonical(try Self.profile(f, Self.alice)) == canonical(
            ["IamUserArn": Self.alice, "Name": "alice", "SshUsername": "al", "SshPublicKey": "ssh-ed25519 A",
             "AllowSelfManagement": true]))
        f.expectError("UpdateUserProfile", ["IamUserArn": Self.bob], "ResourceNotFoundException", "Unable to find user with ARN \(Self.bob)")
        f.as(Self.alice).expectError("UpdateUserProfile", ["IamUserArn": Self.alice, "SshUsername": "x"], "AccessDeniedException",
                                     "User: \(Self.alice) is not authorized to perform: opsworks:UpdateUserProfile on resource: *")
        #expect(try Self.profile(f, Self.alice)["SshUsername"] as? String == "al")
    }

    @Test("DeleteUserProfile removes the profile and the user's permissions, for every handle on the file at once")
    func deleteUserProfile() throws {
        let path = sharedStorePath()
        let f = try Fixture(path: path), other = try Fixture(path: path)
        let s = try f.stack(), t = try f.stack("t")
        _ = try f.instance(s, layers: [try f.layer(s)])
        try f.call("CreateUserProfile", ["IamUserArn": Self.alice])
        try f.call("CreateUserProfile", ["IamUserArn": Self.bob])
        for stack in [s, t] { try f.call("SetPermission", ["StackId": stack, "IamUserArn": Self.alice, "Level": "manage"]) }
        try f.call("SetPermission", ["StackId": s, "IamUserArn": Self.bob, "Level": "show"])
        let alice = other.as(Self.alice)
        let d = try alice.deploy(s, command: "configure")
        #expect((try alice.call("DescribeStacks")["Stacks"] as! [Any]).count == 2)
        try f.call("DeleteUserProfile", ["IamUserArn": Self.alice])
        f.expectError("DescribeUserProfiles", ["IamUserArns": [Self.alice]], "ResourceNotFoundException")
        let left = try other.call("DescribePermissions")["Permissions"] as! [[String: Any]]
        #expect(left.map { $0["IamUserArn"] as! String } == [Self.bob])
        // The other handle stops granting alice anything on its next call.
        alice.expectError("DescribeStacks", ["StackIds": [s]], "AccessDeniedException")
        #expect((try alice.call("DescribeStacks")["Stacks"] as! [Any]).isEmpty)
        // Her deployment keeps her ARN (history); she may get a profile again.
        #expect(try f.deployments(["DeploymentIds": [d]])[0]["IamUserArn"] as? String == Self.alice)
        try f.call("CreateUserProfile", ["IamUserArn": Self.alice])
        alice.expectError("DescribeStacks", ["StackIds": [s]], "AccessDeniedException")
        f.expectError("DeleteUserProfile", ["IamUserArn": "arn:aws:iam::123456789012:user/nobody"], "ResourceNotFoundException",
                      "Unable to find user with ARN arn:aws:iam::123456789012:user/nobody")
    }

    @Test("DescribeMyUserProfile and UpdateMyUserProfile act on the caller's own profile, when it allows self-management")
    func myUserProfile() throws {
        let f = try Fixture()
        try f.call("CreateUserProfile", ["IamUserArn": Self.alice, "SshPublicKey": "old", "AllowSelfManagement": true])
        try f.call("CreateUserProfile", ["IamUserArn": Self.bob])
        let alice = f.as(Self.alice)
        #expect(canonical(try alice.call("DescribeMyUserProfile")) == canonical(
            ["UserProfile": ["IamUserArn": Self.alice, "Name": "alice", "SshUsername": "alice", "SshPublicKey": "old"]]))
        try alice.call("UpdateMyUserProfile", ["SshPublicKey": "ssh-ed25519 NEW"])
        #expect(try Self.profile(f, Self.alice)["SshPublicKey"] as? String == "ssh-ed25519 NEW")
        try alice.call("UpdateMyUserProfile")   // nothing given: nothing changes
        #expect(try Self.profile(f, Self.alice)["SshPublicKey"] as? String == "ssh-ed25519 NEW")
        // bob's profile does not allow self-management.
        for op in ["DescribeMyUserProfile", "UpdateMyUserProfile"] {
            f.as(Self.bob).expectError(op, [:], "AccessDeniedException",
                                       "User: \(Self.bob) is not authorized to perform: opsworks:\(op) on resource: *")
            let carol = "arn:aws:iam::123456789012:user/carol"
            f.as(carol).expectError(op, [:], "ResourceNotFoundException", "Unable to find user with ARN \(carol)")
            f.expectError(op, [:], "ValidationException",
                          "\(op) acts on the caller's own user profile: a store opened without an identity has none")
        }
        #expect(try Self.profile(f, Self.bob)["SshPublicKey"] == nil)
    }

    @Test("DescribeOperatingSystems lists AWS's operating systems, the default Os among them, Windows ones as windows")
    func operatingSystems() throws {
        let f = try Fixture()
        let list = try f.call("DescribeOperatingSystems")["OperatingSystems"] as! [[String: Any]]
        let names = list.map { $0["Name"] as! String }
        #expect(names.contains("Amazon Linux 2") && names.contains("Ubuntu 20.04 LTS"))
        for os in list {
            let name = os["Name"] as! String
            #expect(os["Id"] as? String == name)
            #expect(os["Type"] as? String == (name.hasPrefix("Microsoft Windows") ? "windows" : "linux"))
            #expect(os["Supported"] as? Bool == true)
            #expect((os["ConfigurationManagers"] as? [[String: Any]])?.first?["Name"] as? String == "Chef")
        }
        // Any caller, even one without a profile.
        #expect(canonical(try f.as(Self.bob).call("DescribeOperatingSystems")) == canonical(try f.call("DescribeOperatingSystems")))
    }

    @Test("DescribeAgentVersions answers for a stack's configuration manager or a given one; it needs one of them")
    func agentVersions() throws {
        let f = try Fixture()
        let s = try f.stack()
        func versions(_ request: [String: Any]) throws -> [String] {
            (try f.call("DescribeAgentVersions", request)["AgentVersions"] as! [[String: Any]]).map {
                let m = $0["ConfigurationManager"] as! [String: Any]
                return "\($0["Version"] as! String) \(m["Name"] as! String) \(m["Version"] as! String)"
            }
        }
        #expect(try versions(["StackId": s]) == ["owd-1 Chef 12"])
        #expect(try versions(["ConfigurationManager": ["Name": "Chef", "Version": "11.10"]]) == ["owd-1 Chef 11.10"])
        #expect(try versions(["ConfigurationManager": ["Name": "Chef"]]) == ["owd-1 Chef 11.10", "owd-1 Chef 12", "owd-1 Chef 12.2"])
        #expect(try versions(["ConfigurationManager": ["Name": "Puppet"]]) == [])
        let custom = try f.call("CreateStack", ["Name": "c", "Region": "us-east-1", "ServiceRoleArn": "r",
                                                "DefaultInstanceProfileArn": "p",
                                                "ConfigurationManager": ["Name": "Chef", "Version": "11.10"]])["StackId"] as! String
        #expect(try versions(["StackId": custom]) == ["owd-1 Chef 11.10"])
        f.expectError("DescribeAgentVersions", [:], "ValidationException", "Please provide a stack ID or a configuration manager")
        let x = unknownID()
        f.expectError("DescribeAgentVersions", ["StackId": x], "ResourceNotFoundException", "Unable to find stack with ID \(x)")
    }

    @Test("DescribeServiceErrors is always empty; its IDs must exist, at most one parameter")
    func serviceErrors() throws {
        let f = try Fixture()
        let s = try f.stack()
        let i = try f.instance(s, layers: [try f.layer(s)])
        for request: [String: Any] in [[:], ["StackId": s], ["InstanceId": i], ["ServiceErrorIds": []]] {
            #expect(canonical(try f.call("DescribeServiceErrors", request)) == canonical(["ServiceErrors": [Any]()]))
        }
        let x = unknownID()
        f.expectError("DescribeServiceErrors", ["ServiceErrorIds": [x]], "ResourceNotFoundException", "Unable to find service error with ID \(x)")
        f.expectError("DescribeServiceErrors", ["InstanceId": x], "ResourceNotFoundException", "Unable to find instance with ID \(x)")
        f.expectError("DescribeServiceErrors", ["StackId": s, "InstanceId": i], "ValidationException",
                      "Please provide either one or more service error IDs or one stack ID or one instance ID")
    }
}
