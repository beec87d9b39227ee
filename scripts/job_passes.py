"""Every Spark job of one run, by stage of the run: rows and bytes it read, and its time.

Reads Spark's event log of a ``segment run`` (written uncompressed: run the job with
``--set spark.spark.eventLog.enabled=true --set spark.spark.eventLog.dir=DIR --set
spark.spark.eventLog.compress=false``) and the run's own log (its ``runinfo`` lines say
when each stage ended), and prints a markdown table: per stage of the run, each job's
call site, the rows and bytes its tasks read (from the source, the cache or a shuffle)
and its wall time. A job is a full pass over the rows when its tasks read every partition
of the run's rows (one task per partition, each reading from the cache or a shuffle) or
read at least as many rows as the run used (from the source); the table marks it. Spark
counts the rows of a cached partition as its cached batches, so there the bytes are the
measure. The pass accounting of issue 28 in BENCHMARKS.md is this script's output.

Usage::

    .venv/bin/python scripts/job_passes.py EVENT_LOG RUN_LOG --rows 20000000 --partitions 20
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

#: A run log's line that ends a stage: "23:27:39 INFO segmentation.core.runinfo: evaluate: 7.2 s".
_STAGE_END = re.compile(r"^(\d\d:\d\d:\d\d) INFO segmentation\.core\.runinfo: (\w+): ")


@dataclass
class Job:
    """One Spark job: where it was called, when, and what its tasks read."""

    site: str
    start_ms: int
    end_ms: int = 0
    rows: int = 0
    bytes: int = 0
    #: Tasks that read something, per stage.
    reading_tasks: dict[int, int] = field(default_factory=dict)

    def full_pass(self, rows: int, partitions: int) -> bool:
        return self.rows >= rows or max(self.reading_tasks.values(), default=0) >= partitions


def jobs_of(event_log: Path) -> list[Job]:
    """The jobs of an uncompressed event log, in submission order."""
    jobs: dict[int, Job] = {}
    stage_job: dict[int, int] = {}
    for line in event_log.read_text().splitlines():
        event = json.loads(line)
        kind = event["Event"]
        if kind == "SparkListenerJobStart":
            site = event.get("Properties", {}).get("callSite.short") or ""
            if not site and event["Stage Infos"]:
                site = event["Stage Infos"][-1]["Stage Name"]
            jobs[event["Job ID"]] = Job(_short(site), event["Submission Time"])
            for stage in event["Stage IDs"]:
                stage_job[stage] = event["Job ID"]
        elif kind == "SparkListenerJobEnd":
            jobs[event["Job ID"]].end_ms = event["Completion Time"]
        elif kind == "SparkListenerTaskEnd" and event.get("Task Metrics"):
            job = jobs.get(stage_job.get(event["Stage ID"], -1))
            if job is None:
                continue
            metrics = event["Task Metrics"]
            read = metrics.get("Input Metrics", {})
            shuffle = metrics.get("Shuffle Read Metrics", {})
            rows = read.get("Records Read", 0) + shuffle.get("Total Records Read", 0)
            job.rows += rows
            job.bytes += (read.get("Bytes Read", 0) + shuffle.get("Remote Bytes Read", 0)
                          + shuffle.get("Local Bytes Read", 0))
            if rows:
                stage = event["Stage ID"]
                job.reading_tasks[stage] = job.reading_tasks.get(stage, 0) + 1
    return [jobs[i] for i in sorted(jobs)]


def _short(site: str) -> str:
    """``toPandas at /path/segmentation/model/metrics.py:111`` -> ``model/metrics.py:111``."""
    match = re.search(r"^(\w+) at .*?(?:segmentation|scripts)/(.+)$", site)
    return f"{match.group(1)} at {match.group(2)}" if match else site.split(" at ")[0] + " (JVM)"


def stage_ends(run_log: Path) -> list[tuple[str, str]]:
    """(end time HH:MM:SS, stage) of every stage the run log reports, in order."""
    out = []
    for line in run_log.read_text().splitlines():
        match = _STAGE_END.match(line)
        if match:
            out.append((match.group(1), match.group(2)))
    return out


def stage_of(job: Job, ends: list[tuple[str, str]]) -> str:
    """The run stage a job ran in: the first stage that ended at or after the job ended."""
    ended = datetime.fromtimestamp(job.end_ms / 1000).strftime("%H:%M:%S")
    for end, stage in ends:
        if ended <= end:
            return stage
    return "after the stages (manifest)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("event_log", type=Path)
    parser.add_argument("run_log", type=Path)
    parser.add_argument("--rows", type=int, required=True, help="the rows the run used")
    parser.add_argument("--partitions", type=int, required=True,
                        help="the partitions of the run's rows (its log says how many)")
    args = parser.parse_args(argv)
    ends = stage_ends(args.run_log)
    by_stage: dict[str, list[Job]] = defaultdict(list)
    for job in jobs_of(args.event_log):
        by_stage[stage_of(job, ends)].append(job)
    print("| stage | job (call site) | rows read | MB read | s | full pass |\n"
          "|---|---|---|---|---|---|")
    for stage, jobs in by_stage.items():
        for job in jobs:
            full = "yes" if job.full_pass(args.rows, args.partitions) else ""
            print(f"| {stage} | {job.site} | {job.rows:,} | {job.bytes / 1e6:,.0f} | "
                  f"{(job.end_ms - job.start_ms) / 1000:.2f} | {full} |")
    for stage, jobs in by_stage.items():
        passes = [j for j in jobs if j.full_pass(args.rows, args.partitions)]
        print(f"{stage}: {len(jobs)} jobs, {len(passes)} full passes, "
              f"{sum(j.end_ms - j.start_ms for j in passes) / 1000:.1f} s in them")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
