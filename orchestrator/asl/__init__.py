"""The pure ASL core: definitions, data flow and the step function. No I/O, no clock, no broker."""
