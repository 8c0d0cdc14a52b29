"""Running lenses on the stored snapshots of a run, away from the web server.

The web server never imports Keras. A lens request goes to a warm *inspection worker*
process (:mod:`convscope.inspection.pool`), separate from the training workers, so that a
lens answers while a run trains. The worker keeps each run's network built once and swaps
in the weights of the snapshot asked for (:mod:`convscope.inspection.run_models`), then
runs the lens (:mod:`convscope.inspection.service`).

With the Ray executor, the same work runs in warm Ray actors on the cluster instead
(:mod:`convscope.inspection.ray_inspection`); the server talks to either through one
interface (:mod:`convscope.inspection.inspector`).

Only :mod:`~convscope.inspection.service` and :mod:`~convscope.inspection.run_models`
import Keras; the server uses :mod:`~convscope.inspection.requests`,
:mod:`~convscope.inspection.images`, :mod:`~convscope.inspection.inspector` and its
two implementations.
"""
