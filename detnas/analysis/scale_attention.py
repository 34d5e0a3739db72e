"""SA-FPN's scale attention on real images: the per-image weights every output level gives
every input level, and their mean as a heatmap."""
import torch
from torch import Tensor, nn


def attention_weights(model: nn.Module, batches) -> Tensor:
    """Scale-attention weights of every image, shape (N, L_out, L_in), channels averaged.

    Args:
        model: a detector whose neck is an :class:`~detnas.models.necks.SAFPN` with scale
            attention.
        batches: collated batches (``data_preprocessor`` input format).
    """
    captured = []
    hook = model.neck.scale_attention.register_forward_hook(
        lambda module, inputs, output: captured.append(output.mean(dim=3)))
    try:
        with torch.no_grad():
            for batch in batches:
                model.extract_feat(model.data_preprocessor(batch, False)['inputs'])
    finally:
        hook.remove()
    return torch.cat(captured)


def plot_attention(matrix, out_png: str, title: str) -> None:
    """Heatmap of the (L_out, L_in) mean-weight matrix.

    Args:
        matrix: a 2-d array of weights in [0, 1].
        out_png: the image to write.
        title: the plot title.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    n_out, n_in = matrix.shape
    fig, ax = plt.subplots(figsize=(1.1 * n_in + 2, 1.0 * n_out + 1.5))
    im = ax.imshow(matrix, vmin=0, vmax=1, cmap='viridis')
    for i in range(n_out):
        for j in range(n_in):
            ax.text(j, i, f'{matrix[i, j]:.2f}', ha='center', va='center',
                    color='white' if matrix[i, j] < 0.6 else 'black')
    ax.set_xticks(range(n_in), [f'in L{j}' for j in range(n_in)])
    ax.set_yticks(range(n_out), [f'out L{i}' for i in range(n_out)])
    ax.set_xlabel('input level (0 = finest)')
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)
    plt.close(fig)
