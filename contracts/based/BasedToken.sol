// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Capped} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Capped.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/**
 * @title BasedToken
 * @notice BASED, the BasedAI chain's token: ERC-20 + ERC-2612 permit, 18 decimals. It is minted
 * only by holders of `MINTER_ROLE` (Emission; on the devnet also the faucet), never above
 * `MAX_SUPPLY`, the whole emission schedule of docs/architecture.md §3. Governance (`DEFAULT_ADMIN_ROLE`)
 * grants and revokes the role.
 */
contract BasedToken is ERC20Capped, ERC20Permit, AccessControl {
    /// @notice May mint BASED (up to the cap).
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    /// @notice Blocks per halving era: one year of 10-second blocks (the whitepaper's rate).
    uint256 public constant BLOCKS_PER_HALVING = 3_155_760;
    /// @notice Reward of a block in the first era.
    uint256 public constant INITIAL_BLOCK_REWARD = 10 ether;
    /**
     * @notice Every BASED that will ever exist: the block reward `10 BASED >> floor(h / 3_155_760)`
     * summed over all blocks, i.e. Σ_{k=0}^{63} 3_155_760 × (10e18 >> k) (the shift reaches zero at
     * k = 64). Slightly less than 2 × 31,557,600 BASED because each shift rounds down.
     */
    uint256 public constant MAX_SUPPLY = 63_115_199_999_999_999_940_040_560;

    /// @param admin Governance: grants `MINTER_ROLE` (the deployer until the timelock exists).
    constructor(address admin) ERC20("Based", "BASED") ERC20Capped(MAX_SUPPLY) ERC20Permit("Based") {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /**
     * @notice Mints `amount` BASED to `to`. Reverts with `ERC20ExceededCap(newSupply, cap)` above
     * `MAX_SUPPLY` and `AccessControlUnauthorizedAccount` for callers without `MINTER_ROLE`.
     */
    function mint(address to, uint256 amount) external onlyRole(MINTER_ROLE) {
        _mint(to, amount);
    }

    /// @dev The cap check lives in ERC20Capped's `_update`.
    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Capped) {
        super._update(from, to, value);
    }
}
