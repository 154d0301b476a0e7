import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What an input file holds, judged by its first bytes, not its name.
public enum InputKind: Equatable, Sendable {
    case capture
    case gzip
    case xml
    case json
    case text
    case empty
    case unknown
}

public enum CaptureInputs {
    /// Sniffs the first bytes of a file.
    public static func kind(of path: String) -> InputKind? {
        guard let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        var head = [UInt8](repeating: 0, count: 8)
        let n = fread(&head, 1, 8, f)
        if n == 0 { return .empty }
        if n >= 4 {
            let magic = UInt32(head[0]) << 24 | UInt32(head[1]) << 16 | UInt32(head[2]) << 8 | UInt32(head[3])
            switch magic {
            case 0xa1b2_c3d4, 0xd4c3_b2a1, 0xa1b2_3c4d, 0x4d3c_b2a1, 0x0a0d_0d0a: return .capture
            default: break
            }
        }
        if n >= 2 && head[0] == 0x1f && head[1] == 0x8b { return .gzip }
        let first = head.first { $0 != 0x20 && $0 != 0x0a && $0 != 0x0d && $0 != 0x09 && $0 != 0xef && $0 != 0xbb && $0 != 0xbf }
        if first == UInt8(ascii: "<") { return .xml }
        if first == UInt8(ascii: "{") || first == UInt8(ascii: "[") { return .json }
        if head[..<n].allSatisfy({ $0 >= 0x09 && $0 < 0x80 }) { return .text }
        return .unknown
    }

    /// Expands files, directories (recursively, sorted) and glob patterns (`*`, `?`, `[…]`,
    /// and `**` for any depth) into a sorted list of regular files. Patterns that match nothing
    /// and paths that do not exist are returned in `missing`.
    public static func expand(_ paths: [String]) -> (files: [String], missing: [String]) {
        var files: [String] = []
        var missing: [String] = []
        for path in paths {
            if path.contains("*") || path.contains("?") || path.contains("[") {
                let matched = glob(path)
                if matched.isEmpty { missing.append(path) }
                files += matched
                continue
            }
            var st = stat()
            guard stat(path, &st) == 0 else { missing.append(path); continue }
            if st.st_mode & S_IFMT == S_IFDIR {
                files += walk(path)
            } else {
                files.append(path)
            }
        }
        return (files, missing)
    }

    static func walk(_ directory: String) -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var out: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name == "." || name == ".." || name.hasPrefix(".") { continue }
            let full = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            var st = stat()
            guard stat(full, &st) == 0 else { continue }
            if st.st_mode & S_IFMT == S_IFDIR {
                out += walk(full)
            } else if st.st_mode & S_IFMT == S_IFREG {
                out.append(full)
            }
        }
        return out.sorted()
    }

    static func glob(_ pattern: String) -> [String] {
        // The fixed directory part before the first wildcard is where the walk starts.
        let components = pattern.split(separator: "/", omittingEmptySubsequences: false)
        var base: [Substring] = []
        for c in components {
            if c.contains("*") || c.contains("?") || c.contains("[") { break }
            base.append(c)
        }
        var root = base.joined(separator: "/")
        if root.isEmpty { root = pattern.hasPrefix("/") ? "/" : "." }
        let prefixed = root == "." && !pattern.hasPrefix("./")
        let candidates = walk(root)
        return candidates.filter { file in
            let name = prefixed && file.hasPrefix("./") ? String(file.dropFirst(2)) : file
            return matches(pattern, name)
        }
    }

    /// fnmatch with `FNM_PATHNAME`, plus `**/` matching any number of directories.
    static func matches(_ pattern: String, _ path: String) -> Bool {
        if pattern.contains("**") {
            // Try every expansion of each `**` into zero or more path components.
            let parts = pattern.components(separatedBy: "**/")
            if parts.count > 1 {
                return matchDoubleStar(parts[...], path)
            }
            return fnmatch(pattern.replacingOccurrences(of: "**", with: "*"), path, 0) == 0
        }
        return fnmatch(pattern, path, FNM_PATHNAME) == 0
    }

    private static func matchDoubleStar(_ parts: ArraySlice<String>, _ path: String) -> Bool {
        guard let first = parts.first else { return path.isEmpty }
        if parts.count == 1 { return fnmatch(first, path, FNM_PATHNAME) == 0 }
        // `first` must match a prefix of whole components; then `**/` eats zero or more.
        let comps = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        for cut in 0...comps.count {
            let head = comps[0..<cut].joined(separator: "/") + (cut > 0 ? "/" : "")
            guard fnmatch(first, head, FNM_PATHNAME) == 0 || (first.isEmpty && cut == 0) else { continue }
            for skip in cut...comps.count {
                let rest = comps[skip...].joined(separator: "/")
                if matchDoubleStar(parts.dropFirst(), rest) { return true }
            }
        }
        return false
    }
}
