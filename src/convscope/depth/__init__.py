"""At which layer does the classification happen: measures of class separability per layer.

A network turns an image, layer after layer, into class scores. These modules measure, at
every layer, how well the images' classes can be told apart from that layer's activations
alone, with the same features for every measure:

- :mod:`~convscope.depth.reduction` (no Keras) states the rule, and
  :mod:`~convscope.depth.features` (Keras) applies it: every layer's activations reduced
  to at most 2,048 numbers per image by adaptive average pooling, plus the raw pixels
  reduced by the same rule;
- :mod:`~convscope.depth.measures` (NumPy): leave-one-out k-nearest-neighbour accuracy, a
  linear (logistic-regression) probe trained on one half of the images and tested on the
  other, and nearest-neighbour search with its search score;
- :mod:`~convscope.depth.recording` (NumPy): the per-snapshot record of those accuracies,
  written by the Recorder after each snapshot or computed later on demand, and read by the
  web server.

The lenses ``layer_features``, ``knn_accuracy``, ``linear_probes``, ``similar_images`` and
``layer_maps`` are thin wrappers over these modules, so the Recorder (which may not import
lenses) and the lenses compute the same numbers.
"""
