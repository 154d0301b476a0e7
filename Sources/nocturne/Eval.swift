import ArgumentParser
import Evaluate
import Foundation

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score findings against labelled episodes: precision, recall and F1 per class, delay, false alarms.",
        discussion: """
            A finding matches an episode of the same class on the same cell (for
            transport_congestion the same gNB, by name or N3 address) when it overlaps the
            episode extended by --tolerance after its end. Each episode is matched once, earliest
            finding first: a second finding on one incident is a false positive. Findings on
            benign episodes (busy but healthy, restarts, short dips) and on cells without any
            episode are counted separately.

            Give --cells (the run's cells.jsonl) so false alarms are per cell-hour of the input;
            without it the cells and the span named in the two files are used.

            Example: nocturne eval --truth sim/day/labels.jsonl --found out/findings.jsonl --cells out/cells.jsonl
            """)

    @Option(help: "Labelled episodes (labels.jsonl, DESIGN.md schema).")
    var truth: String

    @Option(help: "Findings to score (findings.jsonl).")
    var found: String

    @Option(help: "The run's cells.jsonl, for the cell-hours the input covered.")
    var cells: String?

    @Option(help: "Seconds after an episode's end that a finding may still start and match.")
    var tolerance: Double = 60

    @Option(help: "text or json.")
    var format: String = "text"

    func run() throws {
        guard format == "text" || format == "json" else { throw ValidationError("--format: text or json") }
        let report: Evaluation.Report
        do {
            let coverage = try cells.map { try Evaluation.coverage(cellsJSONL: $0) }
            report = Evaluation.score(truth: try Evaluation.read(path: truth), found: try Evaluation.read(path: found),
                                      toleranceS: tolerance, coverage: coverage)
        } catch {
            printError("nocturne: \(error)")
            throw ExitCode(1)
        }
        if format == "json" {
            print(String(data: try JSONSerialization.data(withJSONObject: json(report), options: [.sortedKeys]), encoding: .utf8)!)
            return
        }
        func f(_ v: Double?) -> String { v.map { String(format: "%.2f", $0) } ?? "–" }
        let pad = { (s: String, n: Int) in s.padding(toLength: n, withPad: " ", startingAt: 0) }
        print(pad("class", 26) + "episodes  findings  precision  recall    F1   delay p50")
        for c in report.classes {
            print(pad(c.findingClass, 26) + pad("\(c.episodes)", 10) + pad("\(c.findings)", 10) + pad(f(c.precision), 11)
                + pad(f(c.recall), 9) + pad(f(c.f1), 6) + (c.delays.isEmpty ? "–" : "\(Int(Evaluation.median(c.delays)!)) s"))
        }
        print("macro F1 \(f(report.macroF1)); detection delay median \(report.delayMedianS.map { "\(Int($0)) s" } ?? "–"), p95 \(report.delayP95S.map { "\(Int($0)) s" } ?? "–")")
        print("false alarms \(report.falseAlarms) over \(report.cells) cells × \(String(format: "%.1f", report.hours)) h = \(f(report.falseAlarmsPerCellHour)) per cell-hour; "
            + "\(report.falseAlarmsOnBenign) on benign episodes; \(report.falseAlarmsOnHealthyCells) on the \(report.healthyCells) cells without episodes (\(f(report.falseAlarmsPerHealthyCellDay)) per cell-day)")
    }

    func json(_ r: Evaluation.Report) -> [String: Any] {
        func n(_ v: Double?) -> Any { v ?? NSNull() }
        return [
            "classes": r.classes.map { c in
                ["class": c.findingClass, "episodes": c.episodes, "findings": c.findings, "matched": c.matchedEpisodes,
                 "precision": n(c.precision), "recall": n(c.recall), "f1": n(c.f1), "delay_median_s": n(Evaluation.median(c.delays))] as [String: Any]
            },
            "macro_f1": n(r.macroF1), "delay_median_s": n(r.delayMedianS), "delay_p95_s": n(r.delayP95S),
            "false_alarms": r.falseAlarms, "false_alarms_on_benign": r.falseAlarmsOnBenign,
            "false_alarms_on_healthy_cells": r.falseAlarmsOnHealthyCells, "cells": r.cells, "hours": r.hours,
            "healthy_cells": r.healthyCells, "false_alarms_per_cell_hour": n(r.falseAlarmsPerCellHour),
            "false_alarms_per_healthy_cell_day": n(r.falseAlarmsPerHealthyCellDay),
        ]
    }
}
