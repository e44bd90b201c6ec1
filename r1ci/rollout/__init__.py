"""Rollouts: engines, the multi-turn loop, trajectories and the reward."""
