"""Engine: training as a service over an executor. The job book (each codec's job as a state machine),
the dispatcher (queued and in-flight tasks, capacity), the final trainer (the full-corpus retrains
promotion waits on) and the engine that wires them under one lock and drives them (drained by the
batch, served by the console).

Above the executors it runs on; below shipping, outputs and run, which use its verdicts. It writes
no text for people: its events carry data, and ``outputs`` turns them into words.
"""
