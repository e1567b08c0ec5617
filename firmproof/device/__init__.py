"""What a device holds, read: boot chain, executables, Android, components, keys, passwords."""
