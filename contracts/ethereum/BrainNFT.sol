// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {BrainArt} from "./BrainArt.sol";

/**
 * @title BrainNFT
 * @notice A BasedAI Brain: the right to run one Brain (a model, its miners and validators) on the
 * BasedAI chain. At most 1024 Brains are active at once. A Brain is acquired either by burning
 * Pepecoin (price rising by 200 PEPE per burn mint; the Brain is a normal, transferable NFT that
 * can never be deactivated) or by staking exactly 100,000 PEPE for 90 days (the Brain is bound to
 * its owner; after the lock the owner may deactivate it to get the PEPE back and free the slot).
 *
 * The rules are immutable: no owner, no pause, no upgrade. Every state change emits an event so
 * the oracle attesters can mirror Brains onto the BasedAI chain (docs/architecture.md §1–2).
 */
contract BrainNFT is ERC721, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice How a Brain came to exist. `None` is returned for ids that do not exist.
    enum BrainClass {
        None,
        Reserved,
        Burn,
        Stake
    }

    /// @notice Everything a client or the mirror needs to know about one Brain.
    struct BrainInfo {
        address owner;
        BrainClass class;
        /// Stake Brains: the time from which the owner may deactivate and the Brain earns BASED.
        /// Zero for burn and reserved Brains (they earn from the start).
        uint64 unlockAt;
        /// The Brain's wallet on the BasedAI chain (the owner's address unless linked).
        address basedWallet;
    }

    /// @notice Most Brains that may be active at once (ids 0…1023).
    uint256 public constant MAX_BRAINS = 1024;
    /// @notice Pepecoin locked by a stake mint, returned in full on deactivation.
    uint256 public constant STAKE_AMOUNT = 100_000 ether;
    /// @notice How long a stake Brain's Pepecoin stays locked.
    uint256 public constant STAKE_LOCK = 90 days;
    /// @notice Price of the first burn mint.
    uint256 public constant BURN_BASE_PRICE = 1_000 ether;
    /// @notice Price increase per Brain issued by burn so far.
    uint256 public constant BURN_PRICE_STEP = 200 ether;
    /// @notice Where burned Pepecoin goes: any ERC-20 can send to it, nobody can spend from it.
    address public constant BURN_ADDRESS = 0x000000000000000000000000000000000000dEaD;

    /// @notice The Pepecoin token (mainnet 0xA9E8aCf069C58aEc8825542845Fd754e41a9489A).
    IERC20 public immutable pepecoin;
    /// @notice Receiver of the reserved Brains #0–#6 and #47.
    address public immutable labs;

    // Bit i of word i/256 is set while Brain id i exists. Four words cover all 1024 ids, so
    // "smallest free id" is at most four loads and a count of trailing ones.
    uint256[4] private _used;
    // Bit set while the Brain id is a stake Brain: cheaper for burn mints than a struct per id.
    uint256[4] private _staked;

    // Both counters share one slot; they are bounded by MAX_BRAINS, so 16 bits suffice.
    uint16 private _activeSupply;
    uint16 private _burnMints;

    mapping(uint256 id => uint64) private _unlockAt;
    mapping(uint256 id => address) private _basedWallet;

    /// @notice A new Brain exists. `paid` is the PEPE burned or staked (zero for reserved Brains).
    event BrainMinted(
        uint256 indexed id,
        address indexed owner,
        BrainClass class,
        uint256 paid,
        uint64 unlockAt
    );
    /// @notice A stake Brain was burned and its Pepecoin returned; its id is free again.
    event BrainDeactivated(uint256 indexed id, address indexed owner, uint256 refunded);
    /// @notice The Brain's BasedAI-chain wallet changed (`wallet` zero: back to the owner's address).
    event BasedWalletLinked(uint256 indexed id, address indexed wallet);

    /// @notice All 1024 Brain slots are taken; wait for a stake Brain to be deactivated.
    error BrainCapReached(uint256 maxBrains);
    /// @notice The burn price rose above the caller's limit (another mint came first).
    error BurnPriceAboveMax(uint256 price, uint256 maxPrice);
    /// @notice The caller holds less Pepecoin than the mint needs.
    error InsufficientPepe(uint256 needed, uint256 balance);
    /// @notice The caller has not approved this contract to pull enough Pepecoin.
    error InsufficientPepeAllowance(uint256 needed, uint256 allowance);
    /// @notice Only the Brain's owner may do this.
    error NotBrainOwner(uint256 id, address caller);
    /// @notice Only stake Brains can be deactivated; burn and reserved Brains are permanent.
    error NotStakeBrain(uint256 id);
    /// @notice The stake Brain's Pepecoin is locked until `unlockAt`.
    error StakeLocked(uint256 id, uint64 unlockAt);
    /// @notice Stake Brains are bound to their owner: they can be minted and deactivated, not moved.
    error StakeBrainNonTransferable(uint256 id);
    /// @notice A required address was zero.
    error ZeroAddress();

    /**
     * @param pepecoin_ The Pepecoin token (a TestPepecoin on devnet).
     * @param labs_ The Based Labs address that receives the reserved Brains #0–#6 and #47.
     */
    constructor(address pepecoin_, address labs_) ERC721("BasedAI Brain", "BRAIN") {
        if (pepecoin_ == address(0) || labs_ == address(0)) revert ZeroAddress();
        pepecoin = IERC20(pepecoin_);
        labs = labs_;
        for (uint256 id = 0; id < 7; ++id) {
            _mintBrain(labs_, id, BrainClass.Reserved, 0, 0);
        }
        _mintBrain(labs_, 47, BrainClass.Reserved, 0, 0);
    }

    // ─────────────────────────────────────────── Minting ───────────────────────────────────────────

    /// @notice PEPE that the next burn mint costs: 1,000 + 200 × (Brains issued by burn so far).
    function burnPrice() public view returns (uint256) {
        return BURN_BASE_PRICE + BURN_PRICE_STEP * _burnMints;
    }

    /**
     * @notice Burns `burnPrice()` PEPE (sent to 0x…dEaD) and mints the smallest free Brain id.
     * @param maxPrice The most PEPE the caller accepts to pay (protects against a mint racing ahead).
     * @return id The new Brain's id.
     */
    function mintByBurn(uint256 maxPrice) external nonReentrant returns (uint256 id) {
        uint256 price = burnPrice();
        if (price > maxPrice) revert BurnPriceAboveMax(price, maxPrice);
        _checkPepe(price);
        id = _nextFreeId();
        ++_burnMints;
        _mintBrain(msg.sender, id, BrainClass.Burn, price, 0);
        pepecoin.safeTransferFrom(msg.sender, BURN_ADDRESS, price);
    }

    /**
     * @notice Locks exactly `STAKE_AMOUNT` PEPE in this contract for `STAKE_LOCK` and mints the
     * smallest free Brain id, bound to the caller.
     * @return id The new Brain's id.
     */
    function mintByStake() external nonReentrant returns (uint256 id) {
        _checkPepe(STAKE_AMOUNT);
        id = _nextFreeId();
        uint64 unlockAt = uint64(block.timestamp + STAKE_LOCK);
        _mintBrain(msg.sender, id, BrainClass.Stake, STAKE_AMOUNT, unlockAt);
        pepecoin.safeTransferFrom(msg.sender, address(this), STAKE_AMOUNT);
    }

    /**
     * @notice After the lock, burns the caller's stake Brain, returns its 100,000 PEPE and frees
     * the id and the slot for the next mint.
     * @param id The stake Brain to deactivate.
     */
    function deactivate(uint256 id) external nonReentrant {
        address owner = _requireOwned(id);
        if (owner != msg.sender) revert NotBrainOwner(id, msg.sender);
        if (!_isStake(id)) revert NotStakeBrain(id);
        uint64 unlockAt = _unlockAt[id];
        if (block.timestamp < unlockAt) revert StakeLocked(id, unlockAt);

        _burn(id);
        _setBit(_staked, id, false);
        _setBit(_used, id, false);
        delete _unlockAt[id];
        delete _basedWallet[id];
        --_activeSupply;
        emit BrainDeactivated(id, owner, STAKE_AMOUNT);

        pepecoin.safeTransfer(owner, STAKE_AMOUNT);
    }

    // ─────────────────────────────────────── Configuration ────────────────────────────────────────

    /**
     * @notice Sets the wallet that represents this Brain on the BasedAI chain. Zero resets it to
     * the owner's own address. A transfer of a burn Brain resets it too, so a seller's wallet
     * never keeps receiving the buyer's rewards.
     */
    function linkBasedWallet(uint256 id, address wallet) external {
        address owner = _requireOwned(id);
        if (owner != msg.sender) revert NotBrainOwner(id, msg.sender);
        _basedWallet[id] = wallet;
        emit BasedWalletLinked(id, wallet);
    }

    // ─────────────────────────────────────────── Views ─────────────────────────────────────────────

    /// @notice Brains that exist now (reserved + burn + stake not yet deactivated).
    function activeSupply() external view returns (uint256) {
        return _activeSupply;
    }

    /// @notice Brains issued by burn so far (they are never deactivated, so this only grows).
    function burnMints() external view returns (uint256) {
        return _burnMints;
    }

    /// @notice The Brain's owner, class, unlock time and BasedAI-chain wallet. Reverts for ids that
    /// do not exist (`ERC721NonexistentToken`).
    function brainInfo(uint256 id) public view returns (BrainInfo memory info) {
        info.owner = _requireOwned(id);
        info.class = _classOf(id);
        info.unlockAt = _unlockAt[id];
        address wallet = _basedWallet[id];
        info.basedWallet = wallet == address(0) ? info.owner : wallet;
    }

    /// @notice On-chain JSON metadata with an SVG picture of the Brain.
    function tokenURI(uint256 id) public view override returns (string memory) {
        BrainInfo memory info = brainInfo(id);
        return BrainArt.tokenURI(id, uint8(info.class), info.unlockAt, block.timestamp);
    }

    // ───────────────────────────────────────── Internals ───────────────────────────────────────────

    /// @dev The single choke point of every mint, transfer and burn: stake Brains may only be
    /// minted or burned; a moved burn Brain forgets the seller's linked wallet.
    function _update(address to, uint256 id, address auth) internal override returns (address from) {
        from = super._update(to, id, auth);
        if (from != address(0) && to != address(0)) {
            if (_isStake(id)) revert StakeBrainNonTransferable(id);
            if (_basedWallet[id] != address(0)) {
                delete _basedWallet[id];
                emit BasedWalletLinked(id, address(0));
            }
        }
    }

    /// @dev Approving a stake Brain could never lead to a transfer; refuse it so wallets and
    /// marketplaces learn at once instead of at the failed transfer.
    function _approve(address to, uint256 id, address auth, bool emitEvent) internal override {
        if (to != address(0) && id < MAX_BRAINS && _isStake(id)) revert StakeBrainNonTransferable(id);
        super._approve(to, id, auth, emitEvent);
    }

    function _mintBrain(address to, uint256 id, BrainClass class, uint256 paid, uint64 unlockAt) private {
        _setBit(_used, id, true);
        ++_activeSupply;
        if (class == BrainClass.Stake) {
            _setBit(_staked, id, true);
            _unlockAt[id] = unlockAt;
        }
        emit BrainMinted(id, to, class, paid, unlockAt);
        if (class == BrainClass.Reserved) {
            _mint(to, id);
        } else {
            _safeMint(to, id);
        }
    }

    function _checkPepe(uint256 needed) private view {
        uint256 balance = pepecoin.balanceOf(msg.sender);
        if (balance < needed) revert InsufficientPepe(needed, balance);
        uint256 allowance = pepecoin.allowance(msg.sender, address(this));
        if (allowance < needed) revert InsufficientPepeAllowance(needed, allowance);
    }

    /// @dev Smallest id whose bit is clear: the first word that is not all ones, then the lowest
    /// zero bit in it (the lowest set bit of the inverted word).
    function _nextFreeId() private view returns (uint256) {
        for (uint256 w = 0; w < 4; ++w) {
            uint256 free = ~_used[w];
            if (free != 0) {
                return (w << 8) | Math.log2(free & (~free + 1));
            }
        }
        revert BrainCapReached(MAX_BRAINS);
    }

    function _classOf(uint256 id) private view returns (BrainClass) {
        if (_isStake(id)) return BrainClass.Stake;
        // Reserved Brains are never deactivated, so their ids always hold reserved Brains.
        if (id < 7 || id == 47) return BrainClass.Reserved;
        return BrainClass.Burn;
    }

    function _isStake(uint256 id) private view returns (bool) {
        return (_staked[id >> 8] >> (id & 0xff)) & 1 == 1;
    }

    function _setBit(uint256[4] storage bits, uint256 id, bool value) private {
        uint256 mask = 1 << (id & 0xff);
        if (value) bits[id >> 8] |= mask;
        else bits[id >> 8] &= ~mask;
    }
}
